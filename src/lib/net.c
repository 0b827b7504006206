/* net.c - the sandbox's network namespace: only the loopback interface,
 * brought up through rtnetlink (libnl-route-3). */
#include "internal.h"

#include <errno.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

int
corral_net_loopback_up (struct corral_error *err)
{
  struct nl_sock *sk = nl_socket_alloc ();
  if (sk == NULL)
    return corral_fail (err, ENOMEM, "netlink socket");
  int ret = -1;
  struct rtnl_link *lo = NULL, *change = NULL;
  int e = nl_connect (sk, NETLINK_ROUTE);
  if (e < 0)
    {
      corral_fail (err, 0, "netlink connect: %s", nl_geterror (e));
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
