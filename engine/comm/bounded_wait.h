// Every wait for an MPI collective is bounded (issue: no silent hangs). A rank that does
// not arrive within the collective timeout makes every waiting rank give up with one
// message naming the rank(s) that did not arrive and what they were doing last.
//
// How the missing ranks are named: every rank writes on the activity board
// (activity_board.h; shared memory on a host, datagrams between hosts) how many collectives
// it has entered, the last one, and when it entered and left it. A rank that times out at
// its n-th collective reads the board: a rank whose count is below n never arrived, and its
// entry says its host, what it did last and how long ago. Of the ranks that time out (on
// every host), one speaks (the first, the lowest rank on a tie); the others stay silent.
//
// Waiting polls MPI_Test with a sleep that doubles up to 1 ms: it never busy-spins a core.
// Torch-free; only MPI code includes this.
#pragma once

#include <mpi.h>

#include <string>

#include "absl/status/status.h"

namespace zerod::comm {

// The bound for every later wait, in seconds; 0 or less: unbounded. Process-wide.
void SetCollectiveTimeout(double seconds);
double CollectiveTimeout();

// Sets up this host's activity board. A collective over `world` (every rank calls it once,
// at start); without it, timeouts still fire but cannot name the missing ranks.
absl::Status InitActivityBoard(MPI_Comm world);

// Waits for `request`, a collective named `what` ("all-reduce"), within the timeout.
// DeadlineExceeded with the message above when it passes; the request is then abandoned
// (the caller must end the process: see CollectiveTimedOut).
absl::Status BoundedWait(MPI_Request* request, const char* what);

// True once any wait of this process timed out. MPI is then unusable: end the process
// with MPI_Abort (a normal MPI_Finalize would wait for the missing rank).
bool CollectiveTimedOut();
// The first timeout's message ("collective timeout: rank 0 waited ..."), or "".
std::string CollectiveTimeoutMessage();
// Records a timeout found outside BoundedWait (an NCCL collective that did not finish),
// so the rank loop ends the process the same way.
void NoteCollectiveTimeout(const std::string& message);

}  // namespace zerod::comm
