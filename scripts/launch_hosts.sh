#!/bin/sh
# Data-parallel training across hosts with Open MPI: one rank per host (or SLOTS per host), each
# rank using its host's cores as threads. Every host needs the same build of the program at the
# same path, the data at the same path, and passwordless ssh from this host to the others.
#   scripts/launch_hosts.sh HOSTFILE PROGRAM [ARGS...]
#   scripts/launch_hosts.sh hosts.txt build/examples/cnn_fashion 3 /usr/share/datasets/fashion-mnist
# HOSTFILE, Open MPI's format, one host per line with the ranks it runs:
#   node1 slots=1
#   node2 slots=1
# Environment: SLOTS (ranks of a host line without slots=, default 1), THREADS (DEEPC_THREADS per
# rank, default the host's cores divided by its ranks), IFACE (the network interface for MPI's TCP
# traffic, e.g. eth0), MPIRUN_ARGS (more mpirun options). Only rank 0 prints and writes
# checkpoints, on its own host.
set -eu
if [ $# -lt 2 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
HOSTFILE=$1
shift
[ -r "$HOSTFILE" ] || { echo "launch_hosts: cannot read $HOSTFILE" >&2; exit 2; }
SLOTS=${SLOTS:-1}
NP=$(awk -v d="$SLOTS" '!/^[ \t]*(#|$)/ { n = d; for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) { split($i, a, "="); n = a[2] } s += n } END { print s + 0 }' "$HOSTFILE")
[ "$NP" -gt 0 ] || { echo "launch_hosts: no hosts in $HOSTFILE" >&2; exit 2; }
set -- --hostfile "$HOSTFILE" -np "$NP" --map-by node --bind-to none -x OMP_WAIT_POLICY=passive -x OMPI_MCA_mpi_yield_when_idle=1 ${MPIRUN_ARGS:-} "$@"
[ -n "${THREADS:-}" ] && set -- -x DEEPC_THREADS="$THREADS" "$@"
[ -n "${IFACE:-}" ] && set -- --mca btl_tcp_if_include "$IFACE" --mca oob_tcp_if_include "$IFACE" "$@"
[ "$(id -u)" = 0 ] && set -- --allow-run-as-root "$@"
echo "launch_hosts: $NP ranks on the hosts of $HOSTFILE" >&2
exec mpirun "$@"
