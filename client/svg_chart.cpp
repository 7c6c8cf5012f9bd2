#include "client/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace zerod::client {
namespace {

// Room around the plot area for the title, the tick labels and the x label (px).
constexpr int kLeft = 72, kRight = 16, kTop = 36, kBottom = 44;
// Up to this many points a series also draws a dot per point, with its value as a tooltip.
constexpr size_t kMaxDots = 80;

std::string Fmt(double v) { return absl::StrFormat("%.1f", v); }

std::string DefaultY(double v) { return absl::StrFormat("%.4g", v); }

// [lo, hi] of every finite value `pick` returns; false when there is none.
template <typename Pick>
bool Range(const LineChart& c, Pick pick, double* lo, double* hi) {
  *lo = std::numeric_limits<double>::infinity();
  *hi = -*lo;
  for (const auto& s : c.series) {
    for (const auto& p : s.points) {
      const double v = pick(p);
      if (!std::isfinite(v) || !std::isfinite(p.second)) continue;
      *lo = std::min(*lo, v);
      *hi = std::max(*hi, v);
    }
  }
  return *lo <= *hi;
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::vector<double> NiceTicks(double lo, double hi, int count) {
  if (!(hi > lo)) {  // one value (or none): a band around it
    const double pad = lo != 0 ? std::abs(lo) * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(count - 1, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag * (1 - 1e-9);  // 2.0000000001 is 2: rounding, not data
  const double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  std::vector<double> ticks;
  const int64_t first = static_cast<int64_t>(std::floor(lo / step + 1e-9));
  const int64_t last = static_cast<int64_t>(std::ceil(hi / step - 1e-9));
  // Multiples of `step` computed one by one, so no error accumulates (and no "-0").
  for (int64_t k = first; k <= last; ++k) ticks.push_back(k == 0 ? 0.0 : k * step);
  return ticks;
}

std::string SvgLineChart(const LineChart& c) {
  const auto format_y = c.format_y ? c.format_y : DefaultY;
  const int w = c.width, h = c.height;
  const int plot_w = w - kLeft - kRight, plot_h = h - kTop - kBottom;
  std::string svg = absl::StrFormat(
      "<svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
      "role=\"img\" aria-label=\"%s\">\n"
      "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n"
      "<text class=\"title\" x=\"%d\" y=\"22\">%s</text>\n",
      HtmlEscape(c.id), w, h, w, h, HtmlEscape(c.title), w, h, kLeft, HtmlEscape(c.title));

  double x_lo, x_hi, y_lo, y_hi;
  if (!Range(
          c, [](const auto& p) { return p.first; }, &x_lo, &x_hi) ||
      !Range(
          c, [](const auto& p) { return p.second; }, &y_lo, &y_hi)) {
    return svg + absl::StrFormat("<text x=\"%d\" y=\"%d\" class=\"empty\">no data</text>\n</svg>\n",
                                 w / 2 - 24, h / 2);
  }
  if (c.y_from_zero) y_lo = std::min(0.0, y_lo);
  const std::vector<double> y_ticks = NiceTicks(y_lo, y_hi, 5);
  std::vector<double> x_ticks = NiceTicks(x_lo, x_hi, 8);
  // Steps are whole numbers: no tick at 2.5.
  x_ticks.erase(
      std::remove_if(x_ticks.begin(), x_ticks.end(), [](double t) { return t != std::floor(t); }),
      x_ticks.end());
  const double y0 = y_ticks.front(), y1 = y_ticks.back();
  // x spans the data edge to edge (ticks outside it are dropped); one step gets a band.
  const double x0 = x_hi > x_lo ? x_lo : x_lo - 1, x1 = x_hi > x_lo ? x_hi : x_hi + 1;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * plot_w; };
  auto py = [&](double y) { return kTop + plot_h - (y - y0) / (y1 - y0) * plot_h; };

  // Grid and y tick labels, then x tick labels, then the axes over the grid.
  for (double t : y_ticks) {
    svg += absl::StrFormat(
        "<line class=\"grid\" x1=\"%d\" y1=\"%s\" x2=\"%d\" y2=\"%s\"/>"
        "<text class=\"tick\" x=\"%d\" y=\"%s\" text-anchor=\"end\">%s</text>\n",
        kLeft, Fmt(py(t)), kLeft + plot_w, Fmt(py(t)), kLeft - 6, Fmt(py(t) + 4),
        HtmlEscape(format_y(t)));
  }
  for (double t : x_ticks) {
    if (t < x0 || t > x1) continue;
    svg += absl::StrFormat(
        "<text class=\"tick\" x=\"%s\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n", Fmt(px(t)),
        kTop + plot_h + 18, t);
  }
  svg += absl::StrFormat(
      "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
      "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n"
      "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
      kLeft, kTop, kLeft, kTop + plot_h, kLeft, kTop + plot_h, kLeft + plot_w, kTop + plot_h,
      kLeft + plot_w / 2, h - 6, HtmlEscape(c.x_label));

  int legend_x = w - kRight;
  for (auto it = c.series.rbegin(); it != c.series.rend(); ++it) {  // right to left
    const ChartSeries& s = *it;
    std::string points, dots;
    size_t finite = 0;
    for (const auto& [x, y] : s.points) finite += std::isfinite(x) && std::isfinite(y);
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      absl::StrAppend(&points, points.empty() ? "" : " ", Fmt(px(x)), ",", Fmt(py(y)));
      if (finite <= kMaxDots) {
        absl::StrAppend(
            &dots, absl::StrFormat("<circle cx=\"%s\" cy=\"%s\" r=\"2.5\" fill=\"%s\"><title>%s "
                                   "%.0f: %s</title></circle>",
                                   Fmt(px(x)), Fmt(py(y)), HtmlEscape(s.color),
                                   HtmlEscape(c.x_label), x, HtmlEscape(format_y(y))));
      }
    }
    svg += absl::StrFormat(
        "<polyline class=\"series\" data-series=\"%s\" fill=\"none\" stroke=\"%s\" "
        "stroke-width=\"2\" points=\"%s\"/>\n%s%s",
        HtmlEscape(s.name), HtmlEscape(s.color), points, dots, dots.empty() ? "" : "\n");
    if (c.series.size() > 1) {  // a legend only when there is something to tell apart
      legend_x -= 12 + 7 * static_cast<int>(s.name.size());
      svg += absl::StrFormat(
          "<line x1=\"%d\" y1=\"18\" x2=\"%d\" y2=\"18\" stroke=\"%s\" stroke-width=\"3\"/>"
          "<text class=\"legend\" x=\"%d\" y=\"22\">%s</text>\n",
          legend_x - 18, legend_x - 4, HtmlEscape(s.color), legend_x, HtmlEscape(s.name));
      legend_x -= 24;
    }
  }
  return svg + "</svg>\n";
}

}  // namespace zerod::client
