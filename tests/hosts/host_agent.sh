#!/bin/bash
# Open MPI's launch agent for two "hosts" on one machine (tests/hosts/two_hosts_test.sh):
# mpirun calls it as ssh, `host_agent.sh HOST COMMAND...`, to start its daemon (orted) on
# HOST. Here HOST is a name in the test's hostfile, and the agent starts the daemon, and so
# that host's ranks, in new UTS and mount namespaces of this machine: `hostname` says
# HOST, /tmp and /dev/shm are private (as node-local storage and shared memory are on a real
# host), the network and every other path are shared (as a cluster's shared file system
# is). Needs root (or CAP_SYS_ADMIN): unshare(2) of those namespaces.
host=$1
shift
exec unshare --uts --mount --fork -- /bin/bash -c '
  hostname "$1" &&
    mount -t tmpfs -o mode=1777 tmpfs /tmp &&
    mount -t tmpfs -o mode=1777 tmpfs /dev/shm || exit 1
  shift
  exec /bin/sh -c "$*"' host_agent "$host" "$@"
