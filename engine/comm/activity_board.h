// The activity board: what every rank of the job is doing, readable by any rank when a wait
// times out or a watchdog fires, so the message names the rank that stalled, its host and
// what it was doing (issue 27: across hosts, one report per stall).
//
// Layout: one Slot per world rank, in a POSIX shared-memory segment that the ranks of a host
// share. A rank writes only its own slot. Each rank's heartbeat thread also sends its slot
// (as ages, not clock values) five times a second in one UDP datagram to every other host's
// board, where that host's local rank 0 writes it into the sender's slot; so every rank
// sees every rank, a remote one at most ~0.2 s late, and a host (or a process) that stops
// sending shows as "no heartbeat". Datagrams carry a per-job key drawn by rank 0 and sent
// over MPI; others are dropped. The board only feeds messages: nothing is decided on it but
// who speaks.
//
// Internal to engine/comm (bounded_wait.cpp, watchdog.cpp); torch-free, MPI only at set-up.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace zerod::comm::board {

// One rank's entry. Written by its own rank (or, for a remote rank, by this host's
// receiver); read by anyone, so plain atomics, and strings that may be read mid-write.
struct alignas(64) Slot {
  std::atomic<int64_t> world_rank{-1};
  std::atomic<int64_t> entered{0};      // collectives entered so far
  std::atomic<int64_t> entered_ns{0};   // steady clock at the last entry
  std::atomic<int64_t> left_ns{0};      // and when it completed (0 while waiting)
  std::atomic<int64_t> beat_ns{0};      // the last poll while waiting (a sign of life)
  std::atomic<int64_t> alive_ns{0};     // the process's heartbeat thread (5 per s)
  std::atomic<int64_t> progress_ns{0};  // the main thread's last progress (watchdog.h)
  std::atomic<int64_t> idle{0};         // > 0 while the main thread waits for work
  std::atomic<int64_t> reported_ns{0};  // when this rank claimed the stall report (0: not)
  char what[24] = {};                   // the last collective ("all-reduce")
  char doing[48] = {};                  // the main thread's last mark ("STEP 3 of job-1")
  char host[48] = {};
};

// Sets up the board (a collective over `world`, once, at start): the host's segment, this
// rank's slot, its heartbeat thread and the UDP exchange between hosts. Failures to map or
// to open sockets leave a board that names fewer ranks, never an error; MPI errors are.
absl::Status Init(MPI_Comm world);

int64_t NowNs();
// This rank's slot; nullptr before Init.
Slot* Mine();
// Every rank's view of the world (index = world rank); nullptr before Init.
Slot* Slots();
int WorldSize();
int LocalRank();

// "rank 3 (host b)".
std::string RankName(int rank);

// What the ranks other than this one are doing, for the message of a rank that waited in
// collective number `n` (0: not in a collective, as the watchdog asks): those not running,
// not arrived, or stuck inside it, with what each did last.
std::string DescribeOthers(int64_t n);

// Decides who prints a stall's report: marks this rank as having found one, waits a moment
// for the others' marks to arrive, and returns true when no other rank found it first (or at
// the same time with a lower rank). The others stay silent. Call once per process.
bool ClaimStallReport();

}  // namespace zerod::comm::board
