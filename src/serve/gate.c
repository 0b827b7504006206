/* gate.c - the server's front door.
 *
 * libmicrohttpd (0.9.75) accepts a connection and gives it a thread at
 * once, waits for its head with no deadline of its own, takes two
 * Content-Length headers, and leaves a garbage request line or a chunk
 * size of 2^64-1 unanswered.  So it never sees a connection until the gate
 * has read that connection's whole head (MSG_PEEK: the bytes stay for it)
 * and found it well formed:
 *
 *   - one thread, epoll, no FD_SETSIZE: as many connections as
 *     RLIMIT_NOFILE allows, then a 503, never a reset (EMFILE is met with
 *     the spare descriptor of nginx and libuv);
 *   - a head must be complete within header_timeout (408) and 16 KiB
 *     (431); at the connection limit the oldest waiting head older than a
 *     second makes room (408), else the newcomer is answered 503;
 *   - an optional limit of connections per client address (503);
 *   - a strict reading of RFC 9112: a bad request line or header, two
 *     Content-Length or Host headers, Content-Length with
 *     Transfer-Encoding: 400; a coding other than chunked: 501; a first
 *     chunk size beyond 2^63 (400) or the body limit (413).
 *
 * An answer of the gate drains what the client sent, is written, the
 * write side shut, and the connection read and thrown away until the
 * client closes (at most 1 s after its last byte, 10 s in all), so that
 * the client reads the answer instead of a reset. */
#include "config.h"
#include "gate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the head ----------------------------------------------------------------- */

static bool
is_tchar (unsigned char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c != 0 && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
bad (char *why, size_t wlen, int status, const char *msg)
{
  snprintf (why, wlen, "%s", msg);
  return status;
}

static bool
name_is (const char *p, size_t n, const char *name)
{
  return n == strlen (name) && strncasecmp (p, name, n) == 0;
}

/* the value [*v, *v + *n) without its leading and trailing blanks */
static void
trim (const char **v, size_t *n)
{
  while (*n && (**v == ' ' || **v == '\t'))
    (*v)++, (*n)--;
  while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
    (*n)--;
}

int
gate_check_head (const char *head, size_t len, uint64_t max_body, bool *complete, size_t *head_len,
                 char *why, size_t wlen)
{
  const unsigned char *s = (const unsigned char *) head;
  size_t i = 0;
  *complete = false;
  *head_len = 0;
  /* empty lines before the request line are allowed (RFC 9112, 2.2) */
  while (i + 1 < len && s[i] == '\r' && s[i + 1] == '\n')
    i += 2;
  if (i < len && s[i] == '\r' && i + 1 == len)
    return 0;
  /* method SP target SP HTTP/1.x CRLF */
  size_t m0 = i;
  while (i < len && is_tchar (s[i]))
    i++;
  if (i == len)
    return i - m0 > 32 ? bad (why, wlen, 400, "bad request line: method too long") : 0;
  if (s[i] != ' ' || i == m0 || i - m0 > 32)
    return bad (why, wlen, 400, "bad request line: not METHOD SP target SP HTTP/1.1");
  size_t t0 = ++i;
  while (i < len && s[i] >= 0x21 && s[i] <= 0x7e)
    i++;
  if (i == len)
    return 0;
  if (s[i] != ' ' || i == t0)
    return bad (why, wlen, 400, "bad request line: the target holds a character that is not allowed");
  i++;
  static const char ver[] = "HTTP/1.";
  size_t v0 = i;
  for (; i < len && i - v0 < 7; i++)
    if (s[i] != (unsigned char) ver[i - v0])
      {
        if (i - v0 >= 5 && s[i] >= '0' && s[i] <= '9')
          return bad (why, wlen, 505, "HTTP version not supported: only HTTP/1.0 and HTTP/1.1");
        return bad (why, wlen, 400, "bad request line: the version is not HTTP/1.0 or HTTP/1.1");
      }
  if (i == len)
    return 0;
  if (s[i] != '0' && s[i] != '1')
    return bad (why, wlen, s[i] >= '2' && s[i] <= '9' ? 505 : 400,
                "bad request line: the version is not HTTP/1.0 or HTTP/1.1");
  i++;
  if (i == len || (s[i] == '\r' && i + 1 == len))
    return 0;
  if (s[i] != '\r' || s[i + 1] != '\n')
    return bad (why, wlen, 400, "bad request line: it does not end with CRLF after the version");
  i += 2;

  /* the header fields, up to the empty line */
  unsigned n_cl = 0, n_host = 0, n_te = 0;
  uint64_t cl = 0;
  bool chunked = false;
  for (;;)
    {
      if (i == len || (s[i] == '\r' && i + 1 == len))
        return 0;
      if (s[i] == '\r')
        {
          if (s[i + 1] != '\n')
            return bad (why, wlen, 400, "bad header: CR without LF");
          i += 2;
          break;
        }
      if (s[i] == ' ' || s[i] == '\t')
        return bad (why, wlen, 400, "bad header: a line folded onto the next (obs-fold)");
      size_t n0 = i;
      while (i < len && is_tchar (s[i]))
        i++;
      if (i == len)
        return 0;
      if (s[i] != ':' || i == n0)
        return bad (why, wlen, 400, "bad header: a field name with a character that is not allowed, or "
                                    "a blank before the colon");
      size_t nlen = i - n0;
      size_t f0 = ++i;
      while (i < len && (s[i] == '\t' || (s[i] >= 0x20 && s[i] != 0x7f)))
        i++;
      if (i == len || (s[i] == '\r' && i + 1 == len))
        return 0;
      if (s[i] != '\r' || s[i + 1] != '\n')
        return bad (why, wlen, 400, s[i] == '\n' ? "bad header: a line ends with LF, not CRLF"
                                                 : "bad header: a value holds a control character");
      const char *v = head + f0;
      size_t vn = i - f0;
      i += 2;
      trim (&v, &vn);
      const char *name = head + n0;
      if (name_is (name, nlen, "Content-Length"))
        {
          if (++n_cl > 1)
            return bad (why, wlen, 400, "bad header: Content-Length given more than once");
          if (vn == 0 || vn > 19)
            return bad (why, wlen, 400, "bad header: Content-Length is not a number of bytes");
          for (size_t k = 0; k < vn; k++)
            {
              if (v[k] < '0' || v[k] > '9')
                return bad (why, wlen, 400, "bad header: Content-Length is not a number of bytes");
              cl = cl * 10 + (uint64_t) (v[k] - '0');
            }
        }
      else if (name_is (name, nlen, "Host"))
        {
          if (++n_host > 1)
            return bad (why, wlen, 400, "bad header: Host given more than once");
        }
      else if (name_is (name, nlen, "Transfer-Encoding"))
        {
          if (++n_te > 1 || !(vn == 7 && strncasecmp (v, "chunked", 7) == 0))
            return bad (why, wlen, 501, "Transfer-Encoding other than chunked is not implemented");
          chunked = true;
        }
    }
  if (n_cl && n_te)
    return bad (why, wlen, 400, "bad header: both Content-Length and Transfer-Encoding");
  if (cl > max_body)
    return bad (why, wlen, 413, "request body too large");
  if (chunked)
    {
      /* the first chunk's size: at most 16 hex digits, below 2^63 */
      size_t c0 = i;
      uint64_t sz = 0;
      while (i < len && ((s[i] >= '0' && s[i] <= '9') || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')))
        {
          if (i - c0 >= 16)
            return bad (why, wlen, 400, "bad chunk size: more than 16 hex digits");
          unsigned d = s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
          sz = sz << 4 | d;
          i++;
        }
      if (i == len)
        return 0;
      if (i == c0)
        return bad (why, wlen, 400, "bad chunk size: not a hex number");
      if (sz >= (1ull << 63))
        return bad (why, wlen, 400, "bad chunk size: 2^63 or more");
      if (sz > max_body)
        return bad (why, wlen, 413, "request body too large");
      if (s[i] != ';' && s[i] != '\r' && s[i] != ' ' && s[i] != '\t')
        return bad (why, wlen, 400, "bad chunk size: not a hex number");
    }
  *complete = true;
  *head_len = i;
  return 0;
}

/* ---- the connections waiting for their head ---------------------------------------- */

enum { WAITING, LINGERING };

struct conn {
  int fd, state;
  struct sockaddr_in addr;
  double since, deadline, last_deadline;
  struct conn *prev, *next;
};

struct list {
  struct conn *head, *tail;
  atomic_uint n; /* read by gate_counts from other threads */
};

static struct {
  struct MHD_Daemon *d;
  struct gate_config cfg;
  int lfd, ep, stop_fd, spare;
  pthread_t thread;
  bool running;
  struct list waiting, lingering;
  atomic_uint served;
  pthread_mutex_t mu; /* the table of addresses */
  struct ip_slot { uint32_t ip; unsigned n; } *ips;
  size_t ip_cap;
} g = { .lfd = -1, .ep = -1, .stop_fd = -1, .spare = -1, .mu = PTHREAD_MUTEX_INITIALIZER };

static double
mono (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static void
list_push (struct list *l, struct conn *c)
{
  c->next = NULL;
  c->prev = l->tail;
  if (l->tail)
    l->tail->next = c;
  else
    l->head = c;
  l->tail = c;
  l->n++;
}

static void
list_del (struct list *l, struct conn *c)
{
  if (c->prev)
    c->prev->next = c->next;
  else
    l->head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  else
    l->tail = c->prev;
  c->prev = c->next = NULL;
  l->n--;
}

/* Connections per client address (waiting and served), in an open
 * addressing table with linear probing and deletion by backward shift;
 * only kept when there is a limit. */
static size_t
ip_find (uint32_t ip)
{
  size_t i = (ip * 2654435761u) & (g.ip_cap - 1);
  while (g.ips[i].n && g.ips[i].ip != ip)
    i = (i + 1) & (g.ip_cap - 1);
  return i;
}

static bool
ip_take (uint32_t ip)
{
  if (g.cfg.max_per_ip == 0)
    return true;
  pthread_mutex_lock (&g.mu);
  size_t i = ip_find (ip);
  bool ok = g.ips[i].n < g.cfg.max_per_ip;
  if (ok)
    {
      g.ips[i].ip = ip;
      g.ips[i].n++;
    }
  pthread_mutex_unlock (&g.mu);
  return ok;
}

static void
ip_give (uint32_t ip)
{
  if (g.cfg.max_per_ip == 0)
    return;
  pthread_mutex_lock (&g.mu);
  size_t i = ip_find (ip);
  if (g.ips[i].n && --g.ips[i].n == 0)
    {
      /* backward shift: the entries after it that probed past it move up */
      size_t j = i;
      for (;;)
        {
          j = (j + 1) & (g.ip_cap - 1);
          if (g.ips[j].n == 0)
            break;
          size_t home = (g.ips[j].ip * 2654435761u) & (g.ip_cap - 1);
          if (((j - home) & (g.ip_cap - 1)) >= ((j - i) & (g.ip_cap - 1)))
            {
              g.ips[i] = g.ips[j];
              g.ips[j].n = 0;
              i = j;
            }
        }
    }
  pthread_mutex_unlock (&g.mu);
}

static const char *
reason (int status)
{
  switch (status)
    {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

static const int answer_codes[] = { 400, 408, 413, 431, 501, 503, 505 };
#define N_CODES (sizeof answer_codes / sizeof *answer_codes)
static atomic_ulong answered[N_CODES];

static void
count_answer (int status)
{
  for (size_t i = 0; i < N_CODES; i++)
    if (answer_codes[i] == status)
      atomic_fetch_add (&answered[i], 1);
}

static void
drain (int fd)
{
  char buf[65536];
  for (int k = 0; k < 64; k++)
    {
      ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0)
        return;
    }
}

static void
close_conn (struct conn *c)
{
  list_del (c->state == WAITING ? &g.waiting : &g.lingering, c);
  close (c->fd); /* leaves the epoll set with it */
  if (c->state == WAITING)
    ip_give (c->addr.sin_addr.s_addr);
  free (c);
}

/* Answers status with {"detail": why} and lingers.  c is waiting (then it
 * leaves the waiting list) or new (c->state < 0: not in any list). */
static void
answer (struct conn *c, int status, const char *why)
{
  char out[768], esc[384];
  size_t e = 0;
  for (const char *p = why; *p && e + 7 < sizeof esc; p++)
    if (*p == '"' || *p == '\\')
      e += (size_t) snprintf (esc + e, sizeof esc - e, "\\%c", *p);
    else if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
      e += (size_t) snprintf (esc + e, sizeof esc - e, "\\u%04x", (unsigned char) *p);
    else
      esc[e++] = *p;
  esc[e] = '\0';
  char body[512];
  int bn = snprintf (body, sizeof body, "{\"detail\":\"%s\"}", esc);
  int n = snprintf (out, sizeof out,
                    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                    "Connection: close\r\n\r\n%s",
                    status, reason (status), bn, body);
  count_answer (status);
  drain (c->fd);
  (void) !send (c->fd, out, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown (c->fd, SHUT_WR);
  if (c->state == WAITING)
    {
      list_del (&g.waiting, c);
      ip_give (c->addr.sin_addr.s_addr);
    }
  if (g.lingering.n >= 4096)
    {
      close (c->fd);
      free (c);
      return;
    }
  if (c->state < 0)
    {
      struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c };
      if (epoll_ctl (g.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        {
          close (c->fd);
          free (c);
          return;
        }
    }
  c->state = LINGERING;
  double now = mono ();
  c->deadline = now + 1;
  c->last_deadline = now + 10;
  list_push (&g.lingering, c);
}

static void
linger_read (struct conn *c)
{
  char buf[65536];
  for (;;)
    {
      ssize_t n = recv (c->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0)
        {
          double now = mono ();
          c->deadline = now + 1 < c->last_deadline ? now + 1 : c->last_deadline;
          continue;
        }
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
      close_conn (c); /* the client closed: done */
      return;
    }
}

static void
hand_over (struct conn *c)
{
  list_del (&g.waiting, c);
  epoll_ctl (g.ep, EPOLL_CTL_DEL, c->fd, NULL);
  /* its per-address count passes to the served connection (notify) */
  ip_give (c->addr.sin_addr.s_addr);
  int fd = c->fd;
  struct sockaddr_in a = c->addr;
  free (c);
  if (MHD_add_connection (g.d, fd, (struct sockaddr *) &a, sizeof a) != MHD_YES)
    fprintf (stderr, "corral: serve: a connection was dropped: %s\n", strerror (errno));
}

static void
examine (struct conn *c, bool hup)
{
  static char buf[GATE_MAX_HEAD];
  ssize_t n = recv (c->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      close_conn (c);
      return;
    }
  bool complete;
  size_t hlen;
  char why[160];
  int st = gate_check_head (buf, (size_t) n, g.cfg.max_body, &complete, &hlen, why, sizeof why);
  if (st)
    answer (c, st, why);
  else if (complete)
    hand_over (c);
  else if ((size_t) n == sizeof buf)
    answer (c, 431, "request head larger than 16 KiB");
  else if (hup)
    close_conn (c); /* the client sent all it will, and the head is not whole */
}

static void
refuse_new (int fd, struct sockaddr_in *a, const char *why)
{
  struct conn *c = calloc (1, sizeof *c);
  if (c == NULL)
    {
      close (fd);
      return;
    }
  c->fd = fd;
  c->addr = *a;
  c->state = -1;
  answer (c, 503, why);
}

static void
accept_all (void)
{
  for (;;)
    {
      struct sockaddr_in a;
      socklen_t al = sizeof a;
      int fd = accept4 (g.lfd, (struct sockaddr *) &a, &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        {
          if (errno == EINTR || errno == ECONNABORTED)
            continue;
          if ((errno == EMFILE || errno == ENFILE) && g.spare >= 0)
            {
              /* out of descriptors: the spare one lets us answer 503 */
              close (g.spare);
              g.spare = -1;
              fd = accept4 (g.lfd, (struct sockaddr *) &a, &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
              if (fd >= 0)
                {
                  static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                                            "application/json\r\nContent-Length: 43\r\nConnection: "
                                            "close\r\n\r\n{\"detail\":\"too many connections: retry\"}";
                  count_answer (503);
                  drain (fd);
                  (void) !send (fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                  shutdown (fd, SHUT_WR);
                  close (fd);
                }
              g.spare = open ("/dev/null", O_RDONLY | O_CLOEXEC);
              if (fd >= 0)
                continue;
            }
          return; /* EAGAIN, or nothing to do but wait */
        }
      double now = mono ();
      if (g.waiting.n + atomic_load (&g.served) >= g.cfg.max_connections)
        {
          struct conn *old = g.waiting.head;
          if (old && old->since <= now - 1)
            answer (old, 408, "request head not complete in time (the server is full)");
          else
            {
              refuse_new (fd, &a, "too many connections: retry");
              continue;
            }
        }
      if (!ip_take (a.sin_addr.s_addr))
        {
          refuse_new (fd, &a, "too many connections from this address: retry");
          continue;
        }
      struct conn *c = calloc (1, sizeof *c);
      if (c == NULL)
        {
          ip_give (a.sin_addr.s_addr);
          close (fd);
          continue;
        }
      c->fd = fd;
      c->addr = a;
      c->state = WAITING;
      c->since = now;
      c->deadline = now + g.cfg.header_timeout;
      struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c };
      if (epoll_ctl (g.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        {
          ip_give (a.sin_addr.s_addr);
          close (fd);
          free (c);
          continue;
        }
      list_push (&g.waiting, c);
      examine (c, false);
    }
}

static char listen_mark, stop_mark;

static void *
gate_loop (void *arg)
{
  (void) arg;
  struct epoll_event evs[256];
  for (;;)
    {
      double now = mono ();
      while (g.waiting.head && g.waiting.head->deadline <= now)
        answer (g.waiting.head, 408, "request head not complete in time");
      /* the lingering list is in order of the last deadline, not of the
       * one a byte pushed: look at each */
      double next = now + 60;
      for (struct conn *c = g.lingering.head, *nx; c; c = nx)
        {
          nx = c->next;
          if (c->deadline <= now)
            close_conn (c);
          else if (c->deadline < next)
            next = c->deadline;
        }
      if (g.waiting.head && g.waiting.head->deadline < next)
        next = g.waiting.head->deadline;
      int ms = (int) ((next - now) * 1000) + 1;
      int n = epoll_wait (g.ep, evs, 256, ms);
      for (int k = 0; k < n; k++)
        {
          void *p = evs[k].data.ptr;
          if (p == &stop_mark)
            return NULL;
          if (p == &listen_mark)
            accept_all ();
          else
            {
              struct conn *c = p;
              if (c->state == WAITING)
                examine (c, (evs[k].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
              else
                linger_read (c);
            }
        }
    }
}

int
gate_start (struct MHD_Daemon *d, int listen_fd, const struct gate_config *cfg)
{
  g.d = d;
  g.cfg = *cfg;
  g.lfd = listen_fd;
  if (cfg->max_per_ip)
    {
      g.ip_cap = 1024;
      while (g.ip_cap < 2 * (size_t) cfg->max_connections)
        g.ip_cap *= 2;
      g.ips = calloc (g.ip_cap, sizeof *g.ips);
      if (g.ips == NULL)
        return -1;
    }
  g.spare = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g.ep = epoll_create1 (EPOLL_CLOEXEC);
  g.stop_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (g.ep < 0 || g.stop_fd < 0)
    return -1;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_mark };
  struct epoll_event sv = { .events = EPOLLIN, .data.ptr = &stop_mark };
  if (epoll_ctl (g.ep, EPOLL_CTL_ADD, listen_fd, &ev) < 0 || epoll_ctl (g.ep, EPOLL_CTL_ADD, g.stop_fd, &sv) < 0)
    return -1;
  errno = pthread_create (&g.thread, NULL, gate_loop, NULL);
  if (errno)
    return -1;
  g.running = true;
  return 0;
}

void
gate_stop (void)
{
  if (!g.running)
    return;
  uint64_t one = 1;
  (void) !write (g.stop_fd, &one, sizeof one);
  pthread_join (g.thread, NULL);
  g.running = false;
  close (g.lfd);
  g.lfd = -1;
  while (g.waiting.head)
    close_conn (g.waiting.head);
  while (g.lingering.head)
    close_conn (g.lingering.head);
  close (g.ep);
  close (g.stop_fd);
  if (g.spare >= 0)
    close (g.spare);
  free (g.ips);
  g.ips = NULL;
}

void
gate_notify_connection (void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode code)
{
  (void) cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED)
    {
      const union MHD_ConnectionInfo *ci = MHD_get_connection_info (c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
      uint32_t ip = ci && ci->client_addr && ci->client_addr->sa_family == AF_INET
                        ? ((const struct sockaddr_in *) ci->client_addr)->sin_addr.s_addr
                        : 0;
      /* the gate checked the limit; this only counts */
      if (g.cfg.max_per_ip)
        {
          pthread_mutex_lock (&g.mu);
          size_t i = ip_find (ip);
          g.ips[i].ip = ip;
          g.ips[i].n++;
          pthread_mutex_unlock (&g.mu);
        }
      atomic_fetch_add (&g.served, 1);
      *socket_context = (void *) (uintptr_t) ((uint64_t) ip | (1ull << 32));
    }
  else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context)
    {
      uint32_t ip = (uint32_t) (uintptr_t) *socket_context;
      ip_give (ip);
      atomic_fetch_sub (&g.served, 1);
      *socket_context = NULL;
    }
}

void
gate_counts (unsigned *waiting, unsigned *served)
{
  /* read without the gate's lock: a figure for /metrics */
  *waiting = g.waiting.n;
  *served = atomic_load (&g.served);
}

void
gate_metrics (FILE *f)
{
  unsigned w, sv;
  gate_counts (&w, &sv);
  fprintf (f, "# HELP corral_connections Open connections: waiting for their head, being served.\n"
              "# TYPE corral_connections gauge\ncorral_connections{state=\"waiting\"} %u\n"
              "corral_connections{state=\"served\"} %u\n", w, sv);
  fprintf (f, "# HELP corral_gate_answers_total Connections the gate answered itself, by status.\n"
              "# TYPE corral_gate_answers_total counter\n");
  for (size_t i = 0; i < N_CODES; i++)
    fprintf (f, "corral_gate_answers_total{status=\"%d\"} %lu\n", answer_codes[i], atomic_load (&answered[i]));
}
