#include "engine/comm/watchdog.h"

#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "engine/comm/activity_board.h"
#include "engine/comm/bounded_wait.h"

namespace zerod::comm {
namespace {

constexpr double kNs = 1e9;

absl::Mutex abort_mu;
std::function<void()> nccl_abort ABSL_GUARDED_BY(abort_mu);
std::atomic<void (*)()> cuda_stall{nullptr};

void Mark(board::Slot* me, const char* doing) {
  // The text changes only when the caller's pointer does; polls repeat the same one.
  static const char* last = nullptr;
  if (doing != last) {
    std::snprintf(me->doing, sizeof(me->doing), "%s", doing);
    last = doing;
  }
}

// How long Fire's aborts may take before the process ends itself: within the issue's
// "collective timeout plus 10 s", after a silent finder's 3 s of grace.
constexpr int kAbortBoundSeconds = 6;

// Prints the report (or not: another rank speaks), aborts NCCL, then the whole job.
[[noreturn]] void Fire(int64_t silent_ns, double limit) {
  board::Slot* me = board::Mine();
  const int rank = static_cast<int>(me->world_rank.load());
  const std::string doing(me->doing, strnlen(me->doing, sizeof(me->doing)));
  const std::string message = absl::StrFormat(
      "zerod: watchdog: rank %d (host %s) is stalled: its main thread made no progress for "
      "%.1f s (the collective timeout is %.0f s), blocked outside every collective wait (a "
      "CUDA call, an event, NCCL or I/O); it was last doing: %s. Other ranks: %s. Aborting "
      "NCCL, then MPI; if a step can legitimately take this long, raise --collective-timeout\n",
      rank, me->host, static_cast<double>(silent_ns) / kNs, limit,
      doing.empty() ? "nothing marked" : doing, board::DescribeOthers(0));
  const bool speak = board::ClaimStallReport();
  if (speak) {
    std::fputs(message.c_str(), stderr);
    std::fflush(stderr);
  }
  NoteCollectiveTimeout(message);
  // Neither ncclCommAbort nor MPI_Abort is bounded: behind a stream that never drains (a
  // spinning kernel, a host function that never returns) either can block too (seen on an
  // H200 at world 1, 2026-12-03: the report printed, the process lived on). Whatever they
  // do, the process ends kAbortBoundSeconds from here; mpirun then ends the other ranks.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(kAbortBoundSeconds));
    std::_Exit(1);
  }).detach();
  std::function<void()> abort;
  {
    absl::MutexLock lock(&abort_mu);
    abort.swap(nccl_abort);
  }
  if (abort) abort();
  // The reporter's MPI_Abort ends everyone; a silent finder gives it a moment first.
  if (!speak) std::this_thread::sleep_for(std::chrono::seconds(3));
  std::fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

void Watch() {
  using std::chrono::milliseconds;
  board::Slot* me = board::Mine();
  int64_t last_check = board::NowNs();
  int64_t timed_out_at = 0;
  while (true) {
    std::this_thread::sleep_for(milliseconds(250));
    const int64_t now = board::NowNs();
    const double limit = CollectiveTimeout();
    // This process was frozen itself (SIGSTOP): it does not blame its main thread.
    if (now - last_check > 2 * static_cast<int64_t>(kNs)) me->progress_ns.store(now);
    last_check = now;
    if (limit <= 0) continue;
    if (CollectiveTimedOut()) {
      // A wait timed out: the main thread is on its way to MPI_Abort. Should it get stuck
      // on the way (a CUDA call at exit), the job still ends.
      if (timed_out_at == 0) timed_out_at = now;
      if (now - timed_out_at > 15 * static_cast<int64_t>(kNs)) {
        MPI_Abort(MPI_COMM_WORLD, 1);
        std::_Exit(1);
      }
      continue;
    }
    if (me->idle.load() > 0) continue;
    const int64_t silent = now - me->progress_ns.load();
    // Past the bound and its waits' allowance, so that a wait timing out says it first.
    if (static_cast<double>(silent) > (limit + 0.5 + 0.2 * board::LocalRank()) * kNs) {
      Fire(silent, limit);
    }
  }
}

}  // namespace

void MarkProgress(const char* doing) {
  board::Slot* me = board::Mine();
  if (me == nullptr) return;
  Mark(me, doing);
  me->progress_ns.store(board::NowNs(), std::memory_order_relaxed);
}

IdleScope::IdleScope(const char* waiting_for) {
  MarkProgress(waiting_for);
  if (board::Slot* me = board::Mine()) me->idle.store(1);
}

IdleScope::~IdleScope() {
  if (board::Slot* me = board::Mine()) {
    me->progress_ns.store(board::NowNs());
    me->idle.store(0);
  }
}

void StartWatchdog() {
  static std::once_flag once;
  if (board::Mine() == nullptr) return;
  std::call_once(once, [] { std::thread(Watch).detach(); });
}

void SetNcclAbortForWatchdog(std::function<void()> abort) {
  absl::MutexLock lock(&abort_mu);
  nccl_abort = std::move(abort);
}

void SetCudaStallForTest(void (*stall)()) { cuda_stall.store(stall); }

void MaybeStallForTest(int rank, long long step) {
  static const char* spec = std::getenv("ZEROD_TEST_STALL");
  if (spec == nullptr || *spec == '\0') return;
  const std::vector<std::string> parts = absl::StrSplit(spec, ':');
  if (parts.size() < 2 || std::atoi(parts[0].c_str()) != rank ||
      std::atoll(parts[1].c_str()) != step) {
    return;
  }
  MarkProgress("the test stall hook (ZEROD_TEST_STALL)");
  std::fprintf(stderr, "zerod: rank %d: ZEROD_TEST_STALL: blocking the main thread at step %lld\n",
               rank, step);
  std::fflush(stderr);
  if (parts.size() > 2 && parts[2] == "cuda") {
    if (auto stall = cuda_stall.load()) stall();  // does not return
  }
  while (true) pause();
}

}  // namespace zerod::comm
