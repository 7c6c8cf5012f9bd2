#include "client/report_html.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/format.h"
#include "client/svg_chart.h"

namespace zerod::client {
namespace {

// Colours of the series (matplotlib's first ones: familiar to anyone who reads loss plots).
constexpr const char* kBlue = "#1f77b4";
constexpr const char* kOrange = "#ff7f0e";
constexpr const char* kGreen = "#2ca02c";
constexpr const char* kRed = "#d62728";
constexpr const char* kPurple = "#9467bd";
constexpr const char* kGrey = "#7f7f7f";

constexpr const char* kStyle = R"(<style>
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px;
       color: #222; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 16px; margin: 24px 0 8px 0; }
p.sub { color: #666; margin: 0 0 16px 0; }
.row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f0f0; }
svg.chart { background: #fff; border: 1px solid #ddd; }
svg text { font-size: 11px; fill: #444; }
svg text.title { font-size: 14px; font-weight: 600; fill: #222; }
svg line.grid { stroke: #eee; }
svg line.axis { stroke: #888; }
details { margin-top: 8px; }
</style>
)";

std::string Time(double unix_seconds) {
  if (unix_seconds <= 0) return "";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

// Two-column facts; empty values are left out.
std::string FactsTable(const ReportInput& in) {
  const v1::JobStatus& j = in.job;
  std::string rows;
  auto row = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) rows += absl::StrCat("<tr><th>", k, "</th><td>", HtmlEscape(v), "</td></tr>\n");
  };
  row("job", j.job_id());
  row("name", j.name());
  row("state", StateName(j.state()));
  row("reason", j.reason());
  row("steps", absl::StrCat(j.steps_done(), " / ", j.steps_total()));
  row("model", j.spec().model_dir());
  row("DeepSpeed config",
      j.spec().ds_config_path().empty() ? "(inline)" : j.spec().ds_config_path());
  row("data", j.spec().data_path());
  if (j.spec().has_seq_len()) row("sequence length", absl::StrCat(j.spec().seq_len()));
  if (j.num_parameters() > 0) {
    row("parameters", absl::StrFormat("%d (%.2f M)", j.num_parameters(), j.num_parameters() / 1e6));
  }
  if (j.world_size() > 0) row("ranks", absl::StrCat(j.world_size()));
  row("device", j.device());
  row("dtype", j.dtype());
  row("submitted", Time(j.submitted_unix()));
  row("started", Time(j.started_unix()));
  row("finished", Time(j.finished_unix()));
  if (j.started_unix() > 0 && j.finished_unix() >= j.started_unix()) {
    row("run time", Duration(j.finished_unix() - j.started_unix()));
  }
  if (!in.steps.empty()) {
    row("loss, first → last",
        absl::StrFormat("%.4f → %.4f", in.steps.front().loss(), in.steps.back().loss()));
    double tokens = 0;
    for (const auto& s : in.steps) tokens += s.tokens_per_s();
    row("mean tokens/s", absl::StrFormat("%.0f", tokens / in.steps.size()));
    for (auto it = in.steps.rbegin(); it != in.steps.rend(); ++it) {
      if (it->eval_tokens() == 0) continue;
      row("evaluation, newest",
          absl::StrFormat("loss %.4f, perplexity %.3f over %d tokens (after step %d)",
                          it->eval_loss(), it->eval_perplexity(), it->eval_tokens(), it->step()));
      break;
    }
  }
  return "<table class=\"facts\">\n" + rows + "</table>\n";
}

// The last step's parts: a table and a bar split in proportion.
std::string StepPartsSection(const v1::StepMetrics& s) {
  const double total = s.step_seconds();
  const double other =
      std::max(0.0, total - s.forward_seconds() - s.backward_seconds() - s.optimizer_seconds());
  struct Part {
    const char* name;
    double seconds;
    const char* color;
    const char* what;
  };
  const Part parts[] = {
      {"forward", s.forward_seconds(), kBlue, "to the loss, waiting for host updates included"},
      {"backward", s.backward_seconds(), kOrange, "until every gradient shard is held"},
      {"optimizer", s.optimizer_seconds(), kGreen, "norm, clipping, updates queued/launched"},
      {"other", other, kGrey, "the batch, releasing parameters, the loss's all-reduce"}};
  std::string rows, bar;
  double x = 0;
  for (const Part& p : parts) {
    const double share = total > 0 ? p.seconds / total : 0;
    rows += absl::StrFormat(
        "<tr><td><span style=\"color:%s\">&#9632;</span> %s</td><td class=\"num\">%.3f</td>"
        "<td class=\"num\">%.0f%%</td><td>%s</td></tr>\n",
        p.color, p.name, p.seconds, 100 * share, p.what);
    bar += absl::StrFormat(
        "<rect x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"22\" fill=\"%s\"><title>%s %.3f s"
        "</title></rect>",
        x, 500 * share, p.color, p.name, p.seconds);
    x += 500 * share;
  }
  auto extra = [&](const char* name, double seconds, const char* what) {
    rows += absl::StrFormat("<tr><td>%s</td><td class=\"num\">%.3f</td><td></td><td>%s</td></tr>\n",
                            name, seconds, what);
  };
  extra("transfers waiting", s.transfer_wait_seconds(),
        "the optimizer worker waiting for gradients to come down");
  extra("optimizer waiting", s.optimizer_wait_seconds(),
        "the forward waiting for host updates to land (inside forward)");
  extra("optimizer on CPU", s.optimizer_cpu_seconds(), "CpuAdam work finished in the step");
  extra("optimizer on GPU", s.optimizer_gpu_seconds(), "device AdamW (GPU clock)");
  return absl::StrFormat(
      "<h2>Where step %d's %.3f s went</h2>\n"
      "<svg id=\"step-parts\" viewBox=\"0 0 500 22\" width=\"500\" height=\"22\">%s</svg>\n"
      "<table class=\"parts\">\n<tr><th>part</th><th class=\"num\">seconds</th>"
      "<th class=\"num\">share</th><th>what</th></tr>\n%s</table>\n",
      s.step(), total, bar, rows);
}

std::string RankMemoryHtml(const v1::GetMemoryStatsResponse& m) {
  std::string out = absl::StrFormat(
      "<h2>Memory per rank at step %d</h2>\n<table class=\"memory\">\n<tr><th>rank</th>"
      "<th>device</th><th class=\"num\">GPU allocated</th><th class=\"num\">GPU reserved</th>"
      "<th class=\"num\">GPU peak</th><th class=\"num\">pinned host</th>"
      "<th class=\"num\">pageable host</th><th class=\"num\">host RSS</th>"
      "<th class=\"num\">parameter shard</th><th class=\"num\">grad + optimizer shards</th>"
      "</tr>\n",
      m.step());
  for (const auto& r : m.ranks()) {
    out += absl::StrCat("<tr><td>", r.rank(), "</td><td>", HtmlEscape(r.device()), "</td>");
    for (int64_t bytes : {r.gpu_allocated_bytes(), r.gpu_reserved_bytes(), r.gpu_peak_bytes(),
                          r.pinned_host_bytes(), r.pageable_host_bytes(), r.rss_bytes(),
                          r.param_shard_bytes(), r.grad_shard_bytes() + r.optimizer_shard_bytes()})
      out += absl::StrCat("<td class=\"num\">", Bytes(bytes), "</td>");
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string StepsTable(const std::vector<v1::StepMetrics>& steps) {
  std::string out =
      "<details id=\"steps\"><summary>Every step's values</summary>\n<table class=\"steps\">\n"
      "<tr><th class=\"num\">step</th><th class=\"num\">loss</th><th class=\"num\">lr</th>"
      "<th class=\"num\">grad norm</th><th class=\"num\">tokens/s</th>"
      "<th class=\"num\">step s</th><th class=\"num\">forward s</th>"
      "<th class=\"num\">backward s</th><th class=\"num\">optimizer s</th>"
      "<th class=\"num\">GPU peak</th><th class=\"num\">host RSS</th></tr>\n";
  for (const auto& s : steps) {
    out += absl::StrFormat(
        "<tr><td class=\"num\">%d</td><td class=\"num\">%.4f</td><td class=\"num\">%.3e</td>"
        "<td class=\"num\">%.3f</td><td class=\"num\">%.0f</td><td class=\"num\">%.3f</td>"
        "<td class=\"num\">%.3f</td><td class=\"num\">%.3f</td><td class=\"num\">%.3f</td>"
        "<td class=\"num\">%s</td><td class=\"num\">%s</td></tr>\n",
        s.step(), s.loss(), s.lr(), s.grad_norm(), s.tokens_per_s(), s.step_seconds(),
        s.forward_seconds(), s.backward_seconds(), s.optimizer_seconds(), Bytes(s.gpu_peak_bytes()),
        Bytes(s.host_rss_bytes()));
  }
  return out + "</table>\n</details>\n";
}

// One series of the steps: (step, value(step)).
template <typename Value>
ChartSeries Series(const std::vector<v1::StepMetrics>& steps, std::string name, const char* color,
                   Value value) {
  ChartSeries s{std::move(name), color, {}};
  for (const auto& m : steps) s.points.emplace_back(static_cast<double>(m.step()), value(m));
  return s;
}

std::string Charts(const std::vector<v1::StepMetrics>& steps) {
  LineChart loss;
  loss.id = "loss";
  loss.title = "Loss";
  // A step without a label trained nothing (no loss to draw); the evaluation's loss is
  // drawn at the steps it followed (non-finite points are skipped).
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  loss.series.push_back(
      Series(steps, "loss", kBlue, [kNone](auto& m) { return m.no_labels() ? kNone : m.loss(); }));
  if (std::any_of(steps.begin(), steps.end(), [](auto& m) { return m.eval_tokens() > 0; })) {
    loss.series.push_back(Series(steps, "eval loss", kRed, [kNone](auto& m) {
      return m.eval_tokens() > 0 ? m.eval_loss() : kNone;
    }));
  }
  LineChart lr;
  lr.id = "lr";
  lr.title = "Learning rate";
  lr.series.push_back(Series(steps, "lr", kOrange, [](auto& m) { return m.lr(); }));
  lr.format_y = [](double v) { return absl::StrFormat("%.3g", v); };
  LineChart tps;
  tps.id = "tokens";
  tps.title = "Tokens/s";
  tps.y_from_zero = true;
  tps.series.push_back(Series(steps, "tokens/s", kGreen, [](auto& m) { return m.tokens_per_s(); }));
  tps.format_y = [](double v) { return absl::StrFormat("%.4g", v); };

  // Memory in MiB, or GiB once it passes 4 GiB: round ticks in the unit people read.
  int64_t most = 0;
  for (const auto& m : steps)
    most = std::max({most, m.gpu_peak_bytes(), m.host_rss_bytes(), m.host_peak_rss_bytes()});
  const bool gib = most > (int64_t{4} << 30);
  const double unit = gib ? double(1 << 30) : double(1 << 20);
  const std::string unit_name = gib ? " GiB" : " MiB";
  LineChart mem;
  mem.id = "memory";
  mem.title = "Memory (rank 0)";
  mem.y_from_zero = true;
  mem.series.push_back(
      Series(steps, "GPU peak", kRed, [&](auto& m) { return m.gpu_peak_bytes() / unit; }));
  mem.series.push_back(
      Series(steps, "host RSS", kPurple, [&](auto& m) { return m.host_rss_bytes() / unit; }));
  mem.series.push_back(Series(steps, "host peak RSS", kGrey,
                              [&](auto& m) { return m.host_peak_rss_bytes() / unit; }));
  mem.format_y = [unit_name](double v) { return absl::StrFormat("%.4g", v) + unit_name; };

  return absl::StrCat("<div class=\"row\">\n", SvgLineChart(loss), SvgLineChart(lr), "</div>\n",
                      "<div class=\"row\" style=\"margin-top:16px\">\n", SvgLineChart(tps),
                      SvgLineChart(mem), "</div>\n");
}

}  // namespace

std::string ReportHtml(const ReportInput& in) {
  const v1::JobStatus& j = in.job;
  const std::string title =
      absl::StrCat("zerod ", j.job_id(), j.name().empty() ? "" : " (" + j.name() + ")");
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
      HtmlEscape(title), "</title>\n", kStyle, "</head>\n<body>\n<h1>", HtmlEscape(title),
      "</h1>\n<p class=\"sub\">", StateName(j.state()), " at step ", j.steps_done(), " of ",
      j.steps_total(), in.generated_unix > 0 ? ", report written " + Time(in.generated_unix) : "",
      "</p>\n");
  if (in.steps.empty()) {
    html += "<p>No steps yet.</p>\n";
  } else {
    html += Charts(in.steps);
  }
  html += "<div class=\"row\">\n<div>\n<h2>Job</h2>\n" + FactsTable(in) + "</div>\n";
  if (!in.steps.empty()) html += "<div>\n" + StepPartsSection(in.steps.back()) + "</div>\n";
  html += "</div>\n";
  if (in.memory.ranks_size() > 0) html += RankMemoryHtml(in.memory);
  if (!in.steps.empty()) html += StepsTable(in.steps);
  return html + "</body>\n</html>\n";
}

}  // namespace zerod::client
