#include "engine/comm/bounded_wait.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/comm/mpi_status.h"

namespace zerod::comm {
namespace {

using Clock = std::chrono::steady_clock;

// One local rank's entry on the board. Written only by its rank; read by the others after
// a timeout, so plain atomics (and a label that may be read mid-write) are enough.
struct alignas(64) Slot {
  std::atomic<int64_t> world_rank{-1};
  std::atomic<int64_t> entered{0};     // collectives entered so far
  std::atomic<int64_t> entered_ns{0};  // steady clock at the last entry
  std::atomic<int64_t> left_ns{0};     // and when it completed (0 while waiting)
  std::atomic<int64_t> beat_ns{0};     // the last poll while waiting (a sign of life)
  std::atomic<int64_t> alive_ns{0};    // the process's own heartbeat (a thread, 5 per s)
  char what[24] = {};
};

struct Board {
  Slot* slots = nullptr;  // one per local rank
  int local_size = 0;
  int local_rank = 0;
};

std::atomic<double> timeout_seconds{300.0};
std::atomic<bool> timed_out{false};
std::string first_timeout;  // the first timeout's message (written once, before timed_out)
Board board;
int64_t entered = 0;  // this rank's count (also on the board when there is one)

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

Slot* Mine() { return board.slots == nullptr ? nullptr : &board.slots[board.local_rank]; }

// Who on this host has not entered collective number `n`, and what they did last.
std::string MissingRanks(int64_t n) {
  if (board.slots == nullptr) return "the ranks that did not arrive cannot be named here";
  std::vector<std::string> missing;
  const int64_t now = NowNs();
  for (int i = 0; i < board.local_size; ++i) {
    if (i == board.local_rank) continue;
    const Slot& s = board.slots[i];
    const int64_t left = s.left_ns.load();
    const std::string what(s.what, strnlen(s.what, sizeof(s.what)));
    const std::string last = absl::StrFormat(
        "its last collective: %s #%d, %s", what.empty() ? "none" : what, s.entered.load(),
        left == 0 ? "still waiting in it"
                  : absl::StrFormat("left %.1f s ago", static_cast<double>(now - left) / 1e9));
    const double dead = static_cast<double>(now - s.alive_ns.load()) / 1e9;
    const double silent = static_cast<double>(now - s.beat_ns.load()) / 1e9;
    if (dead > 2.0) {
      // The whole process is stopped (SIGSTOP) or gone: its heartbeat thread is silent.
      missing.push_back(absl::StrFormat("rank %d is not running (no heartbeat for %.1f s; %s)",
                                        s.world_rank.load(), dead, last));
    } else if (s.entered.load() < n) {
      missing.push_back(absl::StrFormat("rank %d did not arrive (%s)", s.world_rank.load(), last));
    } else if (left == 0 && silent > 2.0) {
      // In a collective, but its waiting thread stopped polling: a collective of several
      // rounds needs every rank to drive its progress.
      missing.push_back(absl::StrFormat("rank %d stopped responding inside %s #%d",
                                        s.world_rank.load(), what, s.entered.load()));
    }
  }
  if (missing.empty()) {
    return "every rank of this host arrived and is alive; a rank on another host did not";
  }
  return absl::StrJoin(missing, "; ");
}

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

absl::Status InitActivityBoard(MPI_Comm world) {
  int rank = 0;
  MPI_Comm_rank(world, &rank);
  MPI_Comm node;
  MPI_RETURN_IF_ERROR(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
  int local_rank = 0, local_size = 1;
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_size(node, &local_size);
  // The segment is named after local rank 0's pid, which the others learn from it.
  int64_t owner = getpid();
  MPI_RETURN_IF_ERROR(MPI_Bcast(&owner, 1, MPI_INT64_T, 0, node));
  const std::string name = absl::StrCat("/zerod-board-", owner);
  const size_t bytes = sizeof(Slot) * static_cast<size_t>(local_size);
  void* mapped = MAP_FAILED;
  if (local_rank == 0) {
    const int fd = shm_open(name.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd >= 0 && ftruncate(fd, static_cast<off_t>(bytes)) == 0) {
      mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    if (fd >= 0) close(fd);
    if (mapped != MAP_FAILED) new (mapped) Slot[local_size];
  }
  MPI_RETURN_IF_ERROR(MPI_Barrier(node));
  if (local_rank != 0) {
    const int fd = shm_open(name.c_str(), O_RDWR, 0600);
    if (fd >= 0) {
      mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      close(fd);
    }
  }
  MPI_RETURN_IF_ERROR(MPI_Barrier(node));
  if (local_rank == 0) shm_unlink(name.c_str());  // the mappings stay; nothing is left behind
  MPI_Comm_free(&node);
  if (mapped == MAP_FAILED) return absl::OkStatus();  // timeouts work, without names
  board = {static_cast<Slot*>(mapped), local_size, local_rank};
  Mine()->world_rank.store(rank);
  Mine()->alive_ns.store(NowNs());
  // A heartbeat of the process itself, so a rank stopped outside any collective (SIGSTOP,
  // a dead process) is told from one that is merely computing.
  std::thread([slot = Mine()] {
    while (true) {
      slot->alive_ns.store(NowNs(), std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }).detach();
  return absl::OkStatus();
}

absl::Status BoundedWait(MPI_Request* request, const char* what) {
  // After a timeout the job is over: later collectives fail at once instead of timing out
  // one by one (the rank loop is on its way to MPI_Abort).
  if (timed_out.load()) {
    return absl::AbortedError(
        absl::StrCat(what, " not attempted: an earlier collective timed out"));
  }
  const int64_t n = ++entered;
  if (Slot* me = Mine()) {
    std::strncpy(me->what, what, sizeof(me->what) - 1);
    me->left_ns.store(0);
    me->entered_ns.store(NowNs());
    me->beat_ns.store(NowNs());
    me->entered.store(n);
  }
  const double limit = timeout_seconds.load();
  // A rank that sees a timeout later than a lower one does not speak (the first one's
  // MPI_Abort ends it): the lowest waiting rank's message is the one printed.
  const auto allowance =
      std::chrono::duration<double>(limit + 0.2 * (Mine() ? board.local_rank : 0));
  auto deadline = Clock::now() + allowance;
  auto last_poll = Clock::now();
  auto sleep = std::chrono::microseconds(0);
  for (int polls = 0;; ++polls) {
    int done = 0;
    MPI_RETURN_IF_ERROR(MPI_Test(request, &done, MPI_STATUS_IGNORE));
    if (done) break;
    if (Slot* me = Mine()) me->beat_ns.store(NowNs(), std::memory_order_relaxed);
    const auto now = Clock::now();
    // A rank that was itself frozen (SIGSTOP, a stalled host) between two polls is the one
    // the others wait for: it does not blame them; its clock starts again.
    if (now - last_poll > std::chrono::seconds(2)) deadline = now + allowance;
    last_poll = now;
    if (limit > 0 && now > deadline) {
      int rank = 0;
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
      first_timeout = absl::StrFormat(
          "collective timeout: rank %d waited %.0f s in %s #%d; %s. Every rank stops; if a "
          "step can legitimately take this long, raise --collective-timeout",
          rank, limit, what, n, MissingRanks(n));
      timed_out.store(true);
      return absl::DeadlineExceededError(first_timeout);
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
  if (Slot* me = Mine()) me->left_ns.store(NowNs());
  return absl::OkStatus();
}

}  // namespace zerod::comm
