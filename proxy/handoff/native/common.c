// common.c: errors and argument readers, and the object_t lifetime shared by Acceptor and Channel.

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- errors and arguments -------------------------------------------------------------------

napi_value str(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

// Throws a Node-style system error: .code is the errno name ('EADDRINUSE'), .errno Node's
// negative number, .syscall the failed call; the message reads "<what>: <description>[ detail]".
napi_value throw_sys(napi_env env, int err, const char* syscall, const char* what, const char* detail) {
  char name[64], desc[128], msg[640];
  uv_err_name_r(-err, name, sizeof name); // libuv codes are -errno on Unix; the _r forms never allocate
  uv_strerror_r(-err, desc, sizeof desc);
  snprintf(msg, sizeof msg, "%s: %s%s%s", what, desc, detail ? " " : "", detail ? detail : "");
  napi_value error, errno_v;
  napi_create_error(env, str(env, name), str(env, msg), &error);
  napi_create_int32(env, -err, &errno_v);
  napi_set_named_property(env, error, "errno", errno_v);
  napi_set_named_property(env, error, "syscall", str(env, syscall));
  napi_throw(env, error);
  return NULL;
}

napi_value throw_type(napi_env env, const char* name, const char* expected) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s must be %s", name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

// Argument readers: on a bad argument they throw a TypeError and return false.
bool arg_int(napi_env env, napi_value v, const char* name, int min, int max, int32_t* out) {
  double d;
  // !(in range) also rejects NaN, and makes the cast below well defined.
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= min && d <= max) || d != (int32_t)d) {
    char expected[64];
    snprintf(expected, sizeof expected, "an integer in [%d, %d]", min, max);
    return throw_type(env, name, expected), false;
  }
  return *out = (int32_t)d, true;
}

// Sets *len to the full UTF-8 length; the caller reports a value that did not fit (*len >= size).
bool arg_string(napi_env env, napi_value v, const char* name, char* buf, size_t size, size_t* len) {
  if (napi_get_value_string_utf8(env, v, NULL, 0, len) != napi_ok) return throw_type(env, name, "a string"), false;
  if (*len >= size) return true;
  napi_get_value_string_utf8(env, v, buf, size, len);
  if (strlen(buf) != *len) return throw_type(env, name, "a string without NUL bytes"), false;
  return true;
}

bool arg_function(napi_env env, napi_value v, const char* name, napi_ref* out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_function) return throw_type(env, name, "a function"), false;
  return napi_create_reference(env, v, 1, out) == napi_ok;
}

// ---- what Acceptor and Channel share: a JS object, uv handles, a careful lifetime -----------
//
// The struct and why it lives as long as it does: see common.h.

// Calls a JS callback from a libuv callback the way Node calls its own (MakeCallback): in the
// object's async context, with nextTicks and microtasks run when it returns. A throw becomes an
// uncaught exception, like one thrown by a 'data' listener; left pending, it would pop out of
// some unrelated later N-API call.
enum call_result call_js(object_t* o, napi_ref fn_ref, size_t argc, const napi_value* argv) {
  napi_value recv = NULL, fn = NULL, exception;
  if (!fn_ref || napi_get_reference_value(o->env, fn_ref, &fn) != napi_ok || !fn) return CALL_NOT_CALLED;
  if (napi_get_reference_value(o->env, o->self, &recv) != napi_ok || !recv) napi_get_undefined(o->env, &recv);
  if (napi_make_callback(o->env, o->async, recv, fn, argc, argv, NULL) == napi_ok) return CALL_OK;
  bool pending = false;
  if (napi_is_exception_pending(o->env, &pending) == napi_ok && pending) {
    napi_get_and_clear_last_exception(o->env, &exception);
    napi_fatal_exception(o->env, exception); // -> process 'uncaughtException'; exits if nobody listens
  }
  return CALL_FAILED;
}

static void object_maybe_free(object_t* o) {
  if (o->finalized && o->open_handles == 0) free(o);
}

void object_on_handle_closed(uv_handle_t* handle) {
  object_t* o = handle->data;
  if (--o->open_handles > 0) return;
  napi_remove_async_cleanup_hook(o->teardown); // no env needed: safe even during teardown
  object_maybe_free(o);
}

// The environment is going away (a worker thread ends, or Node exits cleanly) with this object
// still open. Node then keeps running the loop until our close callbacks have removed this
// hook, and only after that unloads the addon. Without the hook, a worker thread crashed: libuv
// called our close callbacks after this code had been unmapped.
static void object_on_teardown(napi_async_cleanup_hook_handle handle, void* arg) {
  object_t* o = arg;
  o->teardown = handle;
  o->close(o); // a no-op if close() already ran; its close callbacks are still pending then
}

static void object_finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  object_t* o = data;
  o->close(o); // a no-op: an open object is only collected after the teardown hook closed it
  napi_delete_reference(env, o->self);
  // Destroyed here, not in close(): close() may run inside a callback that still uses it.
  napi_async_destroy(env, o->async);
  o->finalized = true;
  object_maybe_free(o);
}

// The last step of a successful constructor: from here on, the JS object owns the struct.
void object_init(object_t* o, napi_value self, const char* name, int handles, void (*close)(object_t*)) {
  o->open_handles = handles;
  o->close = close;
  napi_async_init(o->env, self, str(o->env, name), &o->async);
  napi_add_async_cleanup_hook(o->env, object_on_teardown, o, &o->teardown);
  napi_wrap(o->env, self, o, object_finalize, NULL, &o->self);
  napi_reference_ref(o->env, o->self, NULL); // strong while open
}

object_t* unwrap_this(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  void* data = NULL;
  napi_get_cb_info(env, info, argc, argv, &self, NULL);
  napi_unwrap(env, self, &data); // throws on a foreign `this`
  return data;
}

// Constructor failure: drops what was made so far and throws (unless an argument error already did).
napi_value constructor_failed(object_t* o, napi_ref* refs, int nrefs, int uv_err, const char* what) {
  napi_env env = o->env;
  for (int i = 0; i < nrefs; i++)
    if (refs[i]) napi_delete_reference(env, refs[i]);
  free(o);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  return pending ? NULL : throw_sys(env, -uv_err, "uv_poll_init", what, NULL);
}
