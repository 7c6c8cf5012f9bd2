#include "client/commands.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "client/format.h"

namespace zerod::client {

int Fail(const Connection& c, const grpc::Status& s) {
  std::fprintf(stderr, "zeroctl: error: %s\n", c.Explain(s).c_str());
  return 1;
}

void Print(const std::string& text) {
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

std::string ModelArg(const std::string& model) {
  // A Hub id (org/name) that is not a local path goes as is: the daemons find it in
  // their Hugging Face cache.
  return ::access(model.c_str(), F_OK) == 0 ? Absolute(model) : model;
}

int Submit(Connection& c, const Output& out, v1::JobSpec spec, bool wait) {
  v1::SubmitJobRequest req;
  *req.mutable_spec() = std::move(spec);
  v1::SubmitJobResponse resp;
  auto ctx = c.Context();
  if (auto s = c.stub().SubmitJob(ctx.get(), req, &resp); !s.ok()) return Fail(c, s);
  Print(out.json ? ToJson(resp) + "\n" : resp.job_id() + "\n");
  return wait ? Watch(c, out, resp.job_id(), true) : 0;
}

int Step(Connection& c, const Output& out, const std::string& job_id, int64_t steps) {
  v1::StepJobRequest req;
  req.set_job_id(job_id);
  req.set_steps(steps);
  v1::StepJobResponse resp;
  auto ctx = c.Context(0);
  if (auto s = c.stub().StepJob(ctx.get(), req, &resp); !s.ok()) return Fail(c, s);
  for (const auto& m : resp.steps())
    Print(out.json ? ToJson(m) + "\n" : StepLine(m, resp.status().steps_total()) + "\n");
  if (!out.json)
    Print(absl::StrCat(job_id, " ", StateName(resp.status().state()), " at step ",
                       resp.status().steps_done(), "/", resp.status().steps_total(), "\n"));
  return 0;
}

int Status(Connection& c, const Output& out, const std::string& job_id) {
  v1::GetJobRequest req;
  req.set_job_id(job_id);
  v1::JobStatus resp;
  auto ctx = c.Context();
  if (auto s = c.stub().GetJob(ctx.get(), req, &resp); !s.ok()) return Fail(c, s);
  Print(out.json ? ToJson(resp) + "\n" : JobDetails(resp));
  return 0;
}

int List(Connection& c, const Output& out) {
  v1::ListJobsResponse resp;
  auto ctx = c.Context();
  if (auto s = c.stub().ListJobs(ctx.get(), {}, &resp); !s.ok()) return Fail(c, s);
  if (out.json) {
    for (const auto& j : resp.jobs()) Print(ToJson(j) + "\n");
  } else {
    Print(JobTable({resp.jobs().begin(), resp.jobs().end()}));
  }
  return 0;
}

int Memory(Connection& c, const Output& out) {
  v1::GetMemoryStatsResponse resp;
  auto ctx = c.Context();
  if (auto s = c.stub().GetMemoryStats(ctx.get(), {}, &resp); !s.ok()) return Fail(c, s);
  if (out.json) {
    for (const auto& r : resp.ranks()) Print(ToJson(r) + "\n");
  } else {
    Print(MemoryTable(resp));
  }
  return 0;
}

int Cancel(Connection& c, const Output& out, const std::string& job_id) {
  v1::CancelJobRequest req;
  req.set_job_id(job_id);
  v1::JobStatus resp;
  auto ctx = c.Context();
  if (auto s = c.stub().CancelJob(ctx.get(), req, &resp); !s.ok()) return Fail(c, s);
  Print(out.json ? ToJson(resp) + "\n"
                 : absl::StrCat(job_id, " ", StateName(resp.state()),
                                resp.state() == v1::CANCELLED ? "" : " (cancel requested)", "\n"));
  return 0;
}

int Checkpoint(Connection& c, const Output& out, const std::string& job_id,
               const std::string& dir) {
  v1::SaveCheckpointRequest req;
  req.set_job_id(job_id);
  req.set_dir(Absolute(dir));
  v1::SaveCheckpointResponse resp;
  auto ctx = c.Context(0);
  if (auto s = c.stub().SaveCheckpoint(ctx.get(), req, &resp); !s.ok()) return Fail(c, s);
  Print(out.json
            ? ToJson(resp) + "\n"
            : absl::StrCat("saved ", job_id, " at step ", resp.step(), " to ", resp.dir(), "\n"));
  return 0;
}

int Export(Connection& c, const Output& out, const std::string& job_id, const std::string& dir) {
  v1::ExportHfRequest req;
  req.set_job_id(job_id);
  req.set_dir(Absolute(dir));
  v1::ExportHfResponse resp;
  auto ctx = c.Context(0);
  if (auto s = c.stub().ExportHf(ctx.get(), req, &resp); !s.ok()) return Fail(c, s);
  Print(out.json ? ToJson(resp) + "\n"
                 : absl::StrCat("exported ", job_id, " at step ", resp.step(),
                                " as Hugging Face weights to ", resp.dir(), "\n"));
  return 0;
}

int Health(Connection& c, const Output& out) {
  v1::HealthResponse resp;
  auto ctx = c.Context();
  if (auto s = c.stub().Health(ctx.get(), {}, &resp); !s.ok()) return Fail(c, s);
  Print(out.json ? ToJson(resp) + "\n"
                 : absl::StrCat("zerod ", resp.version(), ": ", resp.world_size(), " ranks (",
                                resp.launcher(), "), up ", Duration(resp.uptime_seconds()),
                                ", active job ",
                                resp.active_job_id().empty() ? "none" : resp.active_job_id(), ", ",
                                resp.queued_jobs(), " queued\n",
                                resp.stalled().empty() ? "" : "STALLED: " + resp.stalled() + "\n"));
  return 0;
}

int Shutdown(Connection& c, const Output& out) {
  v1::ShutdownResponse resp;
  auto ctx = c.Context();
  if (auto s = c.stub().Shutdown(ctx.get(), {}, &resp); !s.ok()) return Fail(c, s);
  Print(out.json ? "{\"shutdown\": true}\n" : "shutting the daemons down\n");
  return 0;
}

}  // namespace zerod::client
