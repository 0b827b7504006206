/* net.c - the sandbox's network namespace: only the loopback interface,
 * brought up through rtnetlink (libnl-route-3).
 *
 * Creating a network namespace is the dearest part of a sandbox's start
 * (~0.4 ms), so it happens off the sandbox's path, while the sandbox builds
 * its root:
 *   root      the supervisor makes the namespace (unshare, lo up, back to
 *             its own) and sends an fd of it; the sandbox setns()es into it;
 *   rootless  the namespace must belong to the sandbox's user namespace, so
 *             clone3 makes it; the sandbox opens an rtnetlink socket in it and
 *             hands it over, and the supervisor brings lo up through it.  A
 *             netlink socket acts in the namespace it was opened in, and the
 *             kernel checks the opener's capabilities there (and the
 *             sender's: the supervisor owns the sandbox's user namespace). */
#include "internal.h"

#include <errno.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

int
corral_net_open (void)
{
  int fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0)
    return -1;
  struct sockaddr_nl local = { .nl_family = AF_NETLINK }; /* the kernel picks the port */
  if (bind (fd, (struct sockaddr *) &local, sizeof local) < 0)
    {
      int e = errno;
      close (fd);
      errno = e;
      return -1;
    }
  return fd;
}

int
corral_net_loopback_up (int fd, struct corral_error *err)
{
  struct nl_sock *sk = nl_socket_alloc ();
  if (sk == NULL)
    {
      close (fd);
      return corral_fail (err, ENOMEM, "netlink socket");
    }
  int ret = -1;
  struct rtnl_link *lo = NULL, *change = NULL;
  int e = nl_socket_set_fd (sk, NETLINK_ROUTE, fd); /* sk owns fd from here */
  if (e < 0)
    {
      close (fd);
      corral_fail (err, 0, "netlink socket: %s", nl_geterror (e));
      goto out;
    }
  /* In a new network namespace the loopback device is always ifindex 1
   * (LOOPBACK_IFINDEX): no need to ask the kernel for it. */
  lo = rtnl_link_alloc ();
  change = rtnl_link_alloc ();
  if (lo == NULL || change == NULL)
    {
      corral_fail (err, ENOMEM, "netlink");
      goto out;
    }
  rtnl_link_set_ifindex (lo, 1);
  rtnl_link_set_flags (change, IFF_UP);
  e = rtnl_link_change (sk, lo, change, 0);
  if (e < 0)
    {
      corral_fail (err, 0, "netlink: bring lo up: %s", nl_geterror (e));
      goto out;
    }
  ret = 0;
out:
  if (change)
    rtnl_link_put (change);
  if (lo)
    rtnl_link_put (lo);
  nl_socket_free (sk);
  return ret;
}

int
corral_net_make (bool lo, int *nsfd, struct corral_error *err)
{
  *nsfd = -1;
  int home = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0)
    return corral_fail (err, errno, "open our network namespace");
  if (unshare (CLONE_NEWNET) < 0)
    {
      int e = errno;
      close (home);
      return corral_fail (err, e, "create a network namespace");
    }
  int ret = 0;
  if (lo)
    {
      int fd = corral_net_open ();
      ret = fd < 0 ? corral_fail (err, errno, "netlink socket") : corral_net_loopback_up (fd, err);
    }
  if (ret == 0 && (*nsfd = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
    ret = corral_fail (err, errno, "open the sandbox's network namespace");
  if (setns (home, CLONE_NEWNET) < 0)
    ret = corral_fail (err, errno, "return to our network namespace");
  close (home);
  if (ret < 0 && *nsfd >= 0)
    {
      close (*nsfd);
      *nsfd = -1;
    }
  return ret;
}
