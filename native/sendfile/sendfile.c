// sendfile(2) for Berth's blob GETs: the kernel moves page-cache pages to the socket, with no copy through
// JavaScript buffers (what distribution gets from Go's net/http). Node has no sendfile of its own.
//
// start(socketFd, fileFd, offset, length, done) sends `length` bytes of fileFd from `offset` to the socket and
// calls done(errno, bytesSent) once, on the main thread (errno 0 on success). It works on a dup of the socket fd,
// so Node closing its own fd (client gone) never leaves us writing to a reused descriptor; cancel(job) makes the
// job stop at its next step. Each sendfile call runs on libuv's thread pool (a cold page cache means disk reads);
// when the socket's buffer is full the job waits on the main loop for it to become writable (uv_poll), so a slow
// client holds no pool thread.
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

// One step moves at most this much, so a fast client cannot keep a pool thread for a whole large blob.
#define STEP ((int64_t)64 * 1024 * 1024)

typedef struct {
  napi_env env;
  napi_ref done;
  napi_async_work work;
  uv_poll_t poll;
  int poll_started;
  int polling;
  int out;
  int in;
  off_t offset;
  int64_t remaining;
  int64_t sent;
  int err;
  int again;
  int cancelled;
  int finished;
  int refs;  // the native side until its poll handle is closed, and the JS handle until it is collected
} job_t;

static void queue_step(job_t* job);

static void step_execute(napi_env env, void* data) {
  (void)env;
  job_t* job = data;
  job->again = 0;
  int64_t budget = STEP;
  while (job->remaining > 0 && budget > 0 && !job->cancelled) {
    size_t want = (size_t)(job->remaining < budget ? job->remaining : budget);
    ssize_t n = sendfile(job->out, job->in, &job->offset, want);
    if (n > 0) {
      job->sent += n;
      job->remaining -= n;
      budget -= n;
      continue;
    }
    if (n == 0) { job->err = EIO; return; }  // the file is shorter than its size said
    if (errno == EINTR) continue;
    if (errno == EAGAIN) { job->again = 1; return; }
    job->err = errno;
    return;
  }
}

static void release(job_t* job) {
  if (--job->refs == 0) free(job);
}

static void closed(uv_handle_t* handle) {
  job_t* job = handle->data;
  close(job->out);
  release(job);
}

static void collected(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  release(data);
}

static void finish(napi_env env, job_t* job, int err) {
  job->finished = 1;
  napi_value done, global, argv[2];
  napi_get_reference_value(env, job->done, &done);
  napi_get_global(env, &global);
  napi_create_int32(env, err, &argv[0]);
  napi_create_int64(env, job->sent, &argv[1]);
  napi_delete_reference(env, job->done);
  if (job->poll_started) {
    uv_close((uv_handle_t*)&job->poll, closed);
  } else {
    close(job->out);
    release(job);
  }
  napi_call_function(env, global, done, 2, argv, NULL);
}

static void on_writable(uv_poll_t* poll, int status, int events) {
  (void)events;
  job_t* job = poll->data;
  uv_poll_stop(poll);
  job->polling = 0;
  if (status < 0) job->err = -status;
  // A plain libuv callback: N-API calls need a handle scope of their own here.
  napi_handle_scope scope;
  napi_open_handle_scope(job->env, &scope);
  queue_step(job);
  napi_close_handle_scope(job->env, scope);
}

static void step_complete(napi_env env, napi_status status, void* data) {
  job_t* job = data;
  napi_delete_async_work(env, job->work);
  job->work = NULL;
  if (status != napi_ok && !job->err) job->err = ECANCELED;
  if (job->cancelled) { finish(env, job, ECANCELED); return; }
  if (job->err) { finish(env, job, job->err); return; }
  if (job->remaining == 0) { finish(env, job, 0); return; }
  if (!job->again) { queue_step(job); return; }
  if (!job->poll_started) {
    uv_loop_t* loop;
    napi_get_uv_event_loop(env, &loop);
    if (uv_poll_init(loop, &job->poll, job->out) != 0) { finish(env, job, EIO); return; }
    job->poll.data = job;
    job->poll_started = 1;
  }
  job->polling = 1;
  uv_poll_start(&job->poll, UV_WRITABLE | UV_DISCONNECT, on_writable);
}

static void queue_step(job_t* job) {
  napi_value name;
  napi_create_string_utf8(job->env, "berth.sendfile", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(job->env, NULL, name, step_execute, step_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(job->env, job->work) != napi_ok) {
    // Only reachable on an environment being torn down; the job cannot go on.
    job->err = EIO;
  }
}

static napi_value get_int64(napi_env env, napi_value v, int64_t* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) return NULL;
  napi_get_value_int64(env, v, out);
  return v;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t sock, file, offset, length;
  napi_valuetype cbt = napi_undefined;
  if (argc == 5) napi_typeof(env, argv[4], &cbt);
  if (argc < 5 || !get_int64(env, argv[0], &sock) || !get_int64(env, argv[1], &file) ||
      !get_int64(env, argv[2], &offset) || !get_int64(env, argv[3], &length) || cbt != napi_function ||
      sock < 0 || file < 0 || offset < 0 || length < 0) {
    napi_throw_type_error(env, NULL, "start(socketFd, fileFd, offset, length, done)");
    return NULL;
  }
  int out = dup((int)sock);
  if (out < 0) {
    napi_throw_error(env, NULL, "dup of the socket failed");
    return NULL;
  }
  job_t* job = calloc(1, sizeof(job_t));
  job->env = env;
  job->out = out;
  job->in = (int)file;
  job->offset = (off_t)offset;
  job->remaining = length;
  job->refs = 2;
  napi_create_reference(env, argv[4], 1, &job->done);
  napi_value handle;
  napi_create_external(env, job, collected, NULL, &handle);
  queue_step(job);
  return handle;
}

// cancel(job): the job ends with ECANCELED at its next step (at once if it waits for the socket); a finished job
// is left as it is.
static napi_value cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  job_t* job = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void**)&job) != napi_ok || job == NULL) return NULL;
  if (job->finished) return NULL;
  job->cancelled = 1;
  if (job->polling) {
    uv_poll_stop(&job->poll);
    job->polling = 0;
    queue_step(job);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
    {"cancel", NULL, cancel, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(berth_sendfile, init)
