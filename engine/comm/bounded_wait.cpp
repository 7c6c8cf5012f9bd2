#include "engine/comm/bounded_wait.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/comm/activity_board.h"
#include "engine/comm/mpi_status.h"

namespace zerod::comm {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<double> timeout_seconds{300.0};
std::atomic<bool> timed_out{false};
std::string first_timeout;  // the first timeout's message (written once, before timed_out)
int64_t entered = 0;        // this rank's count (also on the board when there is one)

}  // namespace

void SetCollectiveTimeout(double seconds) { timeout_seconds.store(seconds); }
double CollectiveTimeout() { return timeout_seconds.load(); }
bool CollectiveTimedOut() { return timed_out.load(); }
std::string CollectiveTimeoutMessage() { return timed_out.load() ? first_timeout : ""; }

void NoteCollectiveTimeout(const std::string& message) {
  if (timed_out.load()) return;
  first_timeout = message;
  timed_out.store(true);
}

absl::Status InitActivityBoard(MPI_Comm world) { return board::Init(world); }

absl::Status BoundedWait(MPI_Request* request, const char* what) {
  // After a timeout the job is over: later collectives fail at once instead of timing out
  // one by one (the rank loop is on its way to MPI_Abort).
  if (timed_out.load()) {
    return absl::AbortedError(
        absl::StrCat(what, " not attempted: an earlier collective timed out"));
  }
  const int64_t n = ++entered;
  board::Slot* me = board::Mine();
  if (me != nullptr) {
    std::strncpy(me->what, what, sizeof(me->what) - 1);
    me->left_ns.store(0);
    me->entered_ns.store(board::NowNs());
    me->beat_ns.store(board::NowNs());
    me->progress_ns.store(board::NowNs());
    me->entered.store(n);
  }
  const double limit = timeout_seconds.load();
  // The lowest waiting local rank times out first; ClaimStallReport settles who speaks.
  const auto allowance = std::chrono::duration<double>(limit + 0.2 * board::LocalRank());
  auto deadline = Clock::now() + allowance;
  auto last_poll = Clock::now();
  auto sleep = std::chrono::microseconds(0);
  for (int polls = 0;; ++polls) {
    int done = 0;
    MPI_RETURN_IF_ERROR(MPI_Test(request, &done, MPI_STATUS_IGNORE));
    if (done) break;
    if (me != nullptr) {
      // Polling is progress of the main thread (the watchdog leaves it to this bound).
      const int64_t now_ns = board::NowNs();
      me->beat_ns.store(now_ns, std::memory_order_relaxed);
      me->progress_ns.store(now_ns, std::memory_order_relaxed);
    }
    const auto now = Clock::now();
    // A rank that was itself frozen (SIGSTOP, a stalled host) between two polls is the one
    // the others wait for: it does not blame them; its clock starts again.
    if (now - last_poll > std::chrono::seconds(2)) deadline = now + allowance;
    last_poll = now;
    if (limit > 0 && now > deadline) {
      int rank = 0;
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
      const std::string message = absl::StrFormat(
          "collective timeout: rank %d waited %.0f s in %s #%d (on host %s); %s. Every rank "
          "stops; if a step can legitimately take this long, raise --collective-timeout",
          rank, limit, what, n, me == nullptr ? "?" : me->host, board::DescribeOthers(n));
      // One report per stall, whichever ranks and hosts find it: the others keep quiet and
      // give the reporter's MPI_Abort a moment to end them.
      const bool speak = board::ClaimStallReport();
      first_timeout = message;
      timed_out.store(true);
      if (!speak) std::this_thread::sleep_for(std::chrono::seconds(5));
      return absl::DeadlineExceededError(message);
    }
    // Polls back to back at first, yielding the core (a collective usually completes in
    // microseconds, and each poll drives its progress), then a sleep that doubles up to
    // 1 ms.
    if (polls < 64) {
      sched_yield();
      continue;
    }
    std::this_thread::sleep_for(sleep);
    sleep = std::min(std::max(sleep * 2, std::chrono::microseconds(10)),
                     std::chrono::microseconds(1000));
  }
  if (me != nullptr) me->left_ns.store(board::NowNs());
  return absl::OkStatus();
}

}  // namespace zerod::comm
