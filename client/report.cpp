// `zeroctl report JOB --html F`: gathers what the coordinator knows of a job and writes
// the page client/report_html.h makes.
//
// The steps come from the coordinator's WatchJob stream replayed from the start: the
// scheduler keeps every step of every job it ran (finished ones included) for as long as
// the daemons live. A running job's report is a snapshot: the stream replays the steps so
// far, then sends the job's status, and the call is cancelled there instead of following
// the job. Jobs of earlier daemons (read back from the journal) have their last step only,
// so their page has one point per plot.
#include <cstdio>
#include <ctime>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/format.h"
#include "client/report_html.h"
#include "nlohmann/json.hpp"

namespace zerod::client {

int Report(Connection& c, const Output& out, const std::string& job_id,
           const std::string& html_path) {
  ReportInput input;
  v1::WatchJobRequest req;
  req.set_job_id(job_id);
  req.set_from_start(true);
  auto ctx = c.Context(0);
  auto reader = c.stub().WatchJob(ctx.get(), req);
  v1::JobEvent event;
  bool snapshot = false;  // cancelled the stream ourselves: a running job's steps so far
  while (reader->Read(&event)) {
    if (event.has_step()) input.steps.push_back(event.step());
    if (event.has_status()) {
      input.job = event.status();
      if (!HasEnded(input.job.state())) {
        snapshot = true;
        ctx->TryCancel();
        break;
      }
    }
  }
  if (auto s = reader->Finish(); !s.ok() && !snapshot) {
    std::fprintf(stderr, "zeroctl: error: %s\n", c.Explain(s).c_str());
    return 1;
  }
  // A job of earlier daemons: the journal kept its last step only.
  if (input.steps.empty() && input.job.has_last() && input.job.last().step() > 0)
    input.steps.push_back(input.job.last());

  // The ranks' memory, when the newest snapshot is this job's (it is loaded).
  v1::GetMemoryStatsResponse memory;
  auto mem_ctx = c.Context();
  if (c.stub().GetMemoryStats(mem_ctx.get(), {}, &memory).ok() && memory.job_id() == job_id)
    input.memory = std::move(memory);
  input.generated_unix = static_cast<double>(std::time(nullptr));

  const std::string path = Absolute(html_path);
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << ReportHtml(input);
    if (!file.good()) {
      std::fprintf(stderr, "zeroctl: error: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  const std::string text =
      out.json ? nlohmann::ordered_json{{"job_id", job_id},
                                        {"html", path},
                                        {"steps", input.steps.size()},
                                        {"state", StateName(input.job.state())}}
                         .dump() +
                     "\n"
               : absl::StrCat("wrote ", path, ": ", job_id, " ", StateName(input.job.state()), ", ",
                              input.steps.size(), " steps\n");
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace zerod::client
