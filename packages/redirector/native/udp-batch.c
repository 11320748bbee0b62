/*
 * Batched UDP for the redirector (Linux): recvmmsg and sendmmsg on one bound socket, with the JS handler
 * called once per batch instead of once per datagram. Node's dgram costs a recvmsg, a sendmsg and a
 * C++-to-JS call with a fresh address object for every query; on a busy server those, not the answer
 * path, are most of the work (docs/benchmarks.md "dns"). JS reads queries from and writes responses
 * into slots of two buffers shared with this file, so nothing is allocated per datagram here.
 *
 * open(family, host, port, receiveBufferBytes, onBatch) -> { port, receiveBufferBytes, input, output,
 * lengths, sources, close(onClosed) }. onBatch(count) finds query i in input[i*SLOT, +lengths[i]) and its source
 * address text in sources[i*SOURCE_SLOT, +lengths[2*BATCH+i]), or -1 there when the address is the one
 * whose text came last (resolvers repeat theirs, and the text is a string to make in JS); it sets lengths[BATCH+i] to the length of
 * the response it wrote at output[i*SLOT], or 0 for none. A datagram longer than a slot is dropped
 * (lengths[i] = -1): no DNS query over UDP is that long.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define BATCH 64
/* Larger than any query we answer and than udpPayloadCap's ceiling (4096). */
#define SLOT 4096
#define SOURCE_SLOT 64
/* Batches read per readiness event before the loop gets its turn back (libuv reads 32 datagrams). */
#define BATCHES_PER_EVENT 8

typedef struct {
  int fd;
  int closing;
  int in_callback;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_batch;
  napi_ref self;
  /* close(onClosed)'s callback, called once the socket is closed. */
  napi_ref on_closed;
  napi_async_context async;
  unsigned char *input, *output, *sources;
  int32_t *lengths;
  struct sockaddr_storage peers[BATCH];
  /* The source address (not port) whose text JS has last been given: resolvers repeat theirs. */
  unsigned char last_source[16];
  int last_family;
  struct iovec receive_iov[BATCH];
  struct mmsghdr received[BATCH];
  struct iovec send_iov[BATCH];
  struct mmsghdr sending[BATCH];
} Endpoint;

/* Dotted quad by hand: inet_ntop formats through printf, which showed in profiles at a datagram each. */
static int32_t ipv4_text(const unsigned char *octets, unsigned char *out) {
  int32_t at = 0;
  for (int i = 0; i < 4; i++) {
    unsigned value = octets[i];
    if (value >= 100) out[at++] = (unsigned char)('0' + value / 100);
    if (value >= 10) out[at++] = (unsigned char)('0' + value / 10 % 10);
    out[at++] = (unsigned char)('0' + value % 10);
    if (i < 3) out[at++] = '.';
  }
  return at;
}

static void source_text(const struct sockaddr_storage *peer, unsigned char *out, int32_t *length) {
  if (peer->ss_family == AF_INET) {
    *length = ipv4_text((const unsigned char *)&((const struct sockaddr_in *)peer)->sin_addr, out);
    return;
  }
  const char *text = NULL;
  if (peer->ss_family == AF_INET6)
    text = inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, (char *)out, SOURCE_SLOT);
  *length = text ? (int32_t)strlen(text) : 0;
}

/* True when `peer`'s address is the one whose text was last handed to JS, which then reuses it. */
static int same_source(Endpoint *e, const struct sockaddr_storage *peer) {
  const void *address = peer->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)peer)->sin6_addr
                                                    : (const void *)&((const struct sockaddr_in *)peer)->sin_addr;
  size_t size = peer->ss_family == AF_INET6 ? 16 : 4;
  if (e->last_family == peer->ss_family && memcmp(e->last_source, address, size) == 0) return 1;
  e->last_family = peer->ss_family;
  memcpy(e->last_source, address, size);
  return 0;
}

static int receive_batch(Endpoint *e) {
  for (int i = 0; i < BATCH; i++) {
    e->receive_iov[i].iov_base = e->input + (size_t)i * SLOT;
    e->receive_iov[i].iov_len = SLOT;
    memset(&e->received[i].msg_hdr, 0, sizeof(struct msghdr));
    e->received[i].msg_hdr.msg_iov = &e->receive_iov[i];
    e->received[i].msg_hdr.msg_iovlen = 1;
    e->received[i].msg_hdr.msg_name = &e->peers[i];
    e->received[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
  }
  int count = recvmmsg(e->fd, e->received, BATCH, MSG_DONTWAIT, NULL);
  for (int i = 0; i < count; i++) {
    int truncated = e->received[i].msg_hdr.msg_flags & MSG_TRUNC;
    e->lengths[i] = truncated ? -1 : (int32_t)e->received[i].msg_len;
    e->lengths[BATCH + i] = 0;
    if (same_source(e, &e->peers[i])) e->lengths[2 * BATCH + i] = -1;
    else source_text(&e->peers[i], e->sources + (size_t)i * SOURCE_SLOT, &e->lengths[2 * BATCH + i]);
  }
  return count;
}

/* Calls onBatch(count) as a top-level callback (ticks and microtasks run after it); an exception it
 * throws becomes an uncaught exception, as it would from a dgram 'message' listener. */
static void call_handler(Endpoint *e, int count) {
  napi_env env = e->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value handler, receiver, argument, result;
  napi_get_reference_value(env, e->on_batch, &handler);
  napi_get_reference_value(env, e->self, &receiver);
  napi_create_int32(env, count, &argument);
  e->in_callback = 1;
  napi_status status = napi_make_callback(env, e->async, receiver, handler, 1, &argument, &result);
  e->in_callback = 0;
  if (status == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

/* Sends what onBatch wrote; a full socket buffer loses those answers (the clients retry, as after any
 * lost datagram), like dgram's callback-free send. */
static void send_batch(Endpoint *e, int count) {
  int ready = 0;
  for (int i = 0; i < count; i++) {
    int32_t length = e->lengths[BATCH + i];
    if (length <= 0 || length > SLOT) continue;
    e->send_iov[ready].iov_base = e->output + (size_t)i * SLOT;
    e->send_iov[ready].iov_len = (size_t)length;
    memset(&e->sending[ready].msg_hdr, 0, sizeof(struct msghdr));
    e->sending[ready].msg_hdr.msg_iov = &e->send_iov[ready];
    e->sending[ready].msg_hdr.msg_iovlen = 1;
    e->sending[ready].msg_hdr.msg_name = &e->peers[i];
    e->sending[ready].msg_hdr.msg_namelen = e->received[i].msg_hdr.msg_namelen;
    ready++;
  }
  int sent = 0;
  while (sent < ready) {
    int done = sendmmsg(e->fd, e->sending + sent, (unsigned)(ready - sent), MSG_DONTWAIT);
    if (done > 0) sent += done;
    else if (done < 0 && errno == EINTR) continue;
    /* The first datagram the kernel refused (unreachable, buffer full): skip it, send the rest. */
    else sent += 1;
  }
}

static void on_closed(uv_handle_t *handle) {
  Endpoint *e = handle->data;
  close(e->fd);
  if (e->on_closed) {
    napi_handle_scope scope;
    napi_open_handle_scope(e->env, &scope);
    napi_value callback, receiver, result;
    napi_get_reference_value(e->env, e->on_closed, &callback);
    napi_get_reference_value(e->env, e->self, &receiver);
    napi_make_callback(e->env, e->async, receiver, callback, 0, NULL, &result);
    napi_close_handle_scope(e->env, scope);
    napi_delete_reference(e->env, e->on_closed);
  }
  napi_delete_reference(e->env, e->on_batch);
  napi_delete_reference(e->env, e->self);
  napi_async_destroy(e->env, e->async);
  free(e);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  Endpoint *e = poll->data;
  if (status < 0) return;
  for (int round = 0; round < BATCHES_PER_EVENT && !e->closing; round++) {
    int count = receive_batch(e);
    if (count <= 0) return;
    call_handler(e, count);
    if (!e->closing) send_batch(e, count);
    if (count < BATCH) break;
  }
  if (e->closing) uv_close((uv_handle_t *)&e->poll, on_closed);
}

static void begin_close(Endpoint *e) {
  if (e->closing) return;
  e->closing = 1;
  uv_poll_stop(&e->poll);
  /* Inside onBatch the poll handle is still in use: on_readable closes it when the batch returns. */
  if (!e->in_callback) uv_close((uv_handle_t *)&e->poll, on_closed);
}

static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value callback;
  void *data;
  napi_get_cb_info(env, info, &argc, &callback, NULL, &data);
  Endpoint *e = data;
  if (e->closing) return NULL;
  if (argc >= 1) napi_create_reference(env, callback, 1, &e->on_closed);
  begin_close(e);
  return NULL;
}

static napi_value throw_errno(napi_env env, const char *what, int error) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(error));
  const char *code = error == EADDRINUSE ? "EADDRINUSE" : error == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : error == EACCES ? "EACCES" : "EIO";
  napi_throw_error(env, code, message);
  return NULL;
}

static void set_named_int(napi_env env, napi_value target, const char *name, int32_t value) {
  napi_value number;
  napi_create_int32(env, value, &number);
  napi_set_named_property(env, target, name, number);
}

static napi_value shared_buffer(napi_env env, size_t size, unsigned char **data) {
  napi_value buffer;
  napi_create_buffer(env, size, (void **)data, &buffer);
  return buffer;
}

static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t family, port, receive_buffer;
  char host[64];
  size_t host_length;
  if (argc < 5 || napi_get_value_int32(env, argv[0], &family) != napi_ok ||
      napi_get_value_string_latin1(env, argv[1], host, sizeof host, &host_length) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || napi_get_value_int32(env, argv[3], &receive_buffer) != napi_ok) {
    napi_throw_type_error(env, NULL, "open(family, host, port, receiveBufferBytes, onBatch)");
    return NULL;
  }
  struct sockaddr_storage address;
  socklen_t address_length;
  memset(&address, 0, sizeof address);
  if (family == 6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&address;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) return throw_errno(env, "not a numeric IPv6 address", EINVAL);
    address_length = sizeof *in6;
  } else {
    struct sockaddr_in *in4 = (struct sockaddr_in *)&address;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) return throw_errno(env, "not a numeric IPv4 address", EINVAL);
    address_length = sizeof *in4;
  }
  int fd = socket(address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  if (bind(fd, (struct sockaddr *)&address, address_length) != 0) {
    int error = errno;
    close(fd);
    return throw_errno(env, "bind", error);
  }
  getsockname(fd, (struct sockaddr *)&address, &address_length);
  int granted = 0;
  socklen_t granted_length = sizeof granted;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &granted_length);

  Endpoint *e = calloc(1, sizeof(Endpoint));
  e->fd = fd;
  e->env = env;
  napi_value result, close_function, resource_name;
  napi_create_object(env, &result);
  napi_create_reference(env, argv[4], 1, &e->on_batch);
  napi_create_reference(env, result, 1, &e->self);
  napi_create_string_utf8(env, "overlay.udpBatch", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &e->async);
  napi_value lengths_store, lengths;
  napi_create_arraybuffer(env, 3 * BATCH * sizeof(int32_t), (void **)&e->lengths, &lengths_store);
  napi_create_typedarray(env, napi_int32_array, 3 * BATCH, lengths_store, 0, &lengths);
  napi_set_named_property(env, result, "input", shared_buffer(env, (size_t)BATCH * SLOT, &e->input));
  napi_set_named_property(env, result, "output", shared_buffer(env, (size_t)BATCH * SLOT, &e->output));
  napi_set_named_property(env, result, "sources", shared_buffer(env, (size_t)BATCH * SOURCE_SLOT, &e->sources));
  napi_set_named_property(env, result, "lengths", lengths);
  uint16_t bound_port = ntohs(address.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&address)->sin6_port : ((struct sockaddr_in *)&address)->sin_port);
  set_named_int(env, result, "port", bound_port);
  /* Linux reports twice what was asked (its bookkeeping share), as dgram's getRecvBufferSize does. */
  set_named_int(env, result, "receiveBufferBytes", granted / 2);
  set_named_int(env, result, "batch", BATCH);
  set_named_int(env, result, "slot", SLOT);
  set_named_int(env, result, "sourceSlot", SOURCE_SLOT);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, Close, e, &close_function);
  napi_set_named_property(env, result, "close", close_function);

  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &e->poll, fd);
  e->poll.data = e;
  uv_poll_start(&e->poll, UV_READABLE, on_readable);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value open;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, Open, NULL, &open);
  napi_set_named_property(env, exports, "open", open);
  return exports;
}
