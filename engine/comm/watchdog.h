// The per-rank watchdog (issue 27): a thread that sees the rank's main thread make no
// progress for the collective timeout, wherever it is blocked (a CUDA call behind a
// spinning NCCL kernel, an event, NCCL, a stalled file system), reads the activity board,
// prints which rank is stalled and what it was doing, aborts NCCL and then MPI.
//
// Progress is what the main thread marks: every poll of a bounded MPI wait
// (bounded_wait.h), every NCCL call and host wait, and MarkProgress at each rank command.
// While the main thread waits for work (IdleScope: the next command from zeroctl) it is
// idle, not stalled. A rank whose own process was frozen (SIGSTOP) does not blame itself
// when it runs again: its clock starts over, as in BoundedWait; the other ranks name it.
// The bound is CollectiveTimeout() (0: no watchdog), read at each check.
//
// Of the ranks that find a stall (this watchdog, or a wait timing out elsewhere) one prints
// the report (board::ClaimStallReport).
#pragma once

#include <functional>

namespace zerod::comm {

// The main thread's sign of life; `doing` ("STEP 3 of job-1") is kept on the board as what
// it was last doing (static or long-lived text; copied, cut at 47 characters). Main thread
// only; cheap (two stores).
void MarkProgress(const char* doing);

// While alive, the main thread is waiting for work and the watchdog does not count the
// time. Main thread only; not nested.
class IdleScope {
 public:
  explicit IdleScope(const char* waiting_for);
  ~IdleScope();
  IdleScope(const IdleScope&) = delete;
  IdleScope& operator=(const IdleScope&) = delete;
};

// Starts the watchdog thread (once; later calls do nothing). Needs the activity board
// (a communicator created over MPI).
void StartWatchdog();

// What the watchdog runs before MPI_Abort: the NCCL communicator's abort (CUDA builds set
// it when NCCL starts; nullptr clears it). Thread-safe.
void SetNcclAbortForWatchdog(std::function<void()> abort);

// Test-only hook (ZEROD_TEST_STALL=RANK:STEP[:cuda]): rank RANK blocks its main thread
// for ever at the start of step STEP, outside every MPI wait: in a sleep, or with `cuda`
// inside a CUDA stream synchronise (GPU builds; SetCudaStallForTest). Returns at once
// otherwise.
void MaybeStallForTest(int rank, long long step);
void SetCudaStallForTest(void (*stall)());

}  // namespace zerod::comm
