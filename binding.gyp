{
  "targets": [
    {
      "target_name": "handoff",
      "sources": [
        "proxy/handoff/native/module.c",
        "proxy/handoff/native/common.c",
        "proxy/handoff/native/sockets.c",
        "proxy/handoff/native/acceptor.c",
        "proxy/handoff/native/channel.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
