{
  "targets": [
    {
      "target_name": "handoff",
      "sources": ["proxy/handoff/native/handoff.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
