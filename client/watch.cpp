// `zeroctl watch JOB`: follows a job's event stream to its end.
//
// On a terminal it redraws one block in place: the progress bar, where the last step's time
// went, and each rank's memory (GPU peak, host RSS). Piped, it prints one step line per
// step, as before. With --json, one JobEvent per line; a step line gains a "memory" field
// (GetMemoryStatsResponse) when a snapshot of that very step was fetched.
//
// Memory is not in the event stream (the ranks report it after every command, and the
// coordinator keeps only the newest snapshot), so it is polled with GetMemoryStats: at
// most once per step and at most once per second, so a fast job or a long replay from the
// start costs a handful of calls, not one per step.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/format.h"

namespace zerod::client {
namespace {

// Mean of the last few step times, for the ETA.
class StepClock {
 public:
  void Add(double seconds) {
    recent_.push_back(seconds);
    if (recent_.size() > 10) recent_.pop_front();
  }
  double Eta(int64_t remaining) const {
    if (recent_.empty()) return -1;
    double sum = 0;
    for (double s : recent_) sum += s;
    return sum / recent_.size() * remaining;
  }

 private:
  std::deque<double> recent_;
};

// The watched job's newest memory snapshot, fetched at most once per step and per second.
class MemoryPoller {
 public:
  MemoryPoller(Connection& c, std::string job_id) : c_(c), job_id_(std::move(job_id)) {}

  // Called for every step event; returns the newest snapshot of this job's ranks, or
  // nullptr while there is none (the job is not loaded, or the call failed: the view
  // simply goes without, the watch itself must not fail for it).
  // `last`: the job has ended, one final call whatever the time (the last step's memory).
  const v1::GetMemoryStatsResponse* AfterStep(int64_t step, bool last = false) {
    const auto now = std::chrono::steady_clock::now();
    if (step != polled_step_ && (last || now - polled_at_ >= std::chrono::seconds(1))) {
      polled_step_ = step;
      polled_at_ = now;
      v1::GetMemoryStatsResponse resp;
      auto ctx = c_.Context(/*deadline_s=*/2);
      if (c_.stub().GetMemoryStats(ctx.get(), {}, &resp).ok() && resp.job_id() == job_id_ &&
          resp.ranks_size() > 0) {
        latest_ = std::move(resp);
      }
    }
    return latest_ ? &*latest_ : nullptr;
  }

 private:
  Connection& c_;
  const std::string job_id_;
  int64_t polled_step_ = -1;
  std::chrono::steady_clock::time_point polled_at_{};
  std::optional<v1::GetMemoryStatsResponse> latest_;
};

// A block of lines redrawn in place on a terminal: the cursor goes back to the block's
// first line, clears to the end of the screen and writes the new lines. Lines are cut to
// the terminal's width, since a wrapped line would throw off the count of lines to go up.
class LiveBlock {
 public:
  void Draw(const std::vector<std::string>& lines) {
    const std::string erase = Erase();  // before Text() replaces the block's lines
    Print(erase + Text(lines));
  }
  // Prints `line` where the block was and the block again below it: a change of state
  // ("job-2 RUNNING") reads above the progress it belongs to, and the block stays live.
  void PrintAbove(const std::string& line) {
    const std::vector<std::string> lines = lines_;
    const std::string erase = Erase();
    Print(erase + line + "\n" + Text(lines));
  }
  // Leaves the block on screen with the cursor on the line below it.
  void Close() {
    if (!lines_.empty()) Print("\n");
    lines_.clear();
  }

 private:
  // Back to the block's first line, and everything from there down cleared.
  std::string Erase() const {
    std::string out = "\r";
    if (lines_.size() > 1) out += absl::StrCat("\033[", lines_.size() - 1, "A");
    return out + "\033[J";
  }
  // The lines as the new block (no newline after the last: the cursor stays on it).
  std::string Text(const std::vector<std::string>& lines) {
    std::string out;
    const size_t width = Width();
    for (size_t i = 0; i < lines.size(); ++i) {
      out += lines[i].substr(0, width);
      if (i + 1 < lines.size()) out += "\n";
    }
    lines_ = lines;
    return out;
  }
  static size_t Width() {
    winsize w{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 1) return w.ws_col - 1;
    return 200;
  }
  std::vector<std::string> lines_;  // the block on screen now
};

std::vector<std::string> TtyBlock(const v1::StepMetrics& m, int64_t total, double eta,
                                  const v1::GetMemoryStatsResponse* memory) {
  std::vector<std::string> lines = {ProgressLine(m, total, eta)};
  const std::vector<std::string> parts = StepPartsLines(m);
  lines.push_back("  time   " + parts[0]);
  lines.push_back("  waits  " + parts[1]);
  if (memory != nullptr) {
    const bool same = memory->step() == m.step();
    bool first = true;
    for (const std::string& rank : RankMemoryLines(*memory)) {
      lines.push_back((first ? "  memory " : "         ") + rank);
      first = false;
    }
    if (!same) lines.back() += absl::StrCat("  (at step ", memory->step(), ")");
  }
  return lines;
}

}  // namespace

int Watch(Connection& c, const Output& out, const std::string& job_id, bool from_start) {
  // The job's total first: the stream replays the steps before its first status.
  v1::JobStatus last_status;
  if (!out.json) {
    v1::GetJobRequest req;
    req.set_job_id(job_id);
    auto ctx = c.Context();
    if (!c.stub().GetJob(ctx.get(), req, &last_status).ok()) last_status.Clear();
  }
  v1::WatchJobRequest req;
  req.set_job_id(job_id);
  req.set_from_start(from_start);
  auto ctx = c.Context(0);
  auto reader = c.stub().WatchJob(ctx.get(), req);
  const bool tty = !out.json && ::isatty(STDOUT_FILENO);
  v1::JobEvent event;
  StepClock clock;
  MemoryPoller memory(c, job_id);
  LiveBlock block;
  std::optional<v1::StepMetrics> last_step;  // the newest step drawn
  bool streamed = false;                     // an event came: the daemons were there
  int64_t step_seen = last_status.steps_done();
  while (reader->Read(&event)) {
    streamed = true;
    if (event.has_step()) {
      const auto& m = event.step();
      step_seen = m.step();
      if (out.json) {
        const v1::GetMemoryStatsResponse* snap = memory.AfterStep(m.step());
        Print((snap != nullptr && snap->step() == m.step() ? ToJson(event, "memory", *snap)
                                                           : ToJson(event)) +
              "\n");
        continue;
      }
      clock.Add(m.step_seconds());
      const int64_t total = last_status.steps_total();
      last_step = m;
      if (tty) {
        block.Draw(TtyBlock(m, total, clock.Eta(total - m.step()), memory.AfterStep(m.step())));
      } else {
        Print(StepLine(m, total) + "\n");
      }
    }
    if (event.has_status()) {
      last_status = event.status();
      step_seen = std::max(step_seen, last_status.steps_done());
      if (out.json) {
        Print(ToJson(event) + "\n");
      } else {
        // The reason of an end other than SUCCEEDED is said once, on stderr, below.
        const bool failed = HasEnded(last_status.state()) && last_status.state() != v1::SUCCEEDED;
        const std::string line =
            absl::StrCat(job_id, " ", StateName(last_status.state()),
                         failed || last_status.reason().empty() ? "" : ": " + last_status.reason());
        if (tty && !HasEnded(last_status.state())) {
          block.PrintAbove(line);
        } else {
          // The block's last draw may show memory from a step or two before the end.
          if (tty && last_step.has_value()) {
            block.Draw(TtyBlock(*last_step, last_status.steps_total(), 0,
                                memory.AfterStep(last_step->step(), /*last=*/true)));
          }
          block.Close();
          Print(line + "\n");
        }
      }
    }
  }
  block.Close();
  if (auto s = reader->Finish(); !s.ok()) {
    // A stream that was working broke: the daemons went away mid-job, they were there.
    if (streamed && s.error_code() == grpc::StatusCode::UNAVAILABLE) {
      std::fprintf(stderr, "zeroctl: error: %s\n",
                   c.ExplainLostWatch(s, last_status, step_seen).c_str());
      return 1;
    }
    return Fail(c, s);
  }
  if (last_status.state() != v1::SUCCEEDED) {
    std::fprintf(stderr, "zeroctl: %s ended %s%s\n", job_id.c_str(),
                 StateName(last_status.state()).c_str(),
                 last_status.reason().empty() ? "" : (": " + last_status.reason()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace zerod::client
