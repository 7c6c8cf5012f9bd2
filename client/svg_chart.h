// Line charts as inline SVG text, for the HTML report (client/report_html.h): the page
// must draw without a network or a script library, so the chart is drawn here, in C++,
// as plain SVG elements (axes, grid, ticks, one polyline per series, a legend).
//
// Not a plotting library: linear axes only, x ascending, one chart per call.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace zerod::client {

struct ChartSeries {
  std::string name;                               // legend text
  std::string color;                              // any CSS colour: "#1f77b4"
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending; non-finite y skipped
};

struct LineChart {
  std::string id;     // the <svg> element's id
  std::string title;  // drawn above the plot
  std::string x_label = "step";
  std::vector<ChartSeries> series;
  // Tick labels of the y axis (and the points' tooltips); default "%.4g".
  std::function<std::string(double)> format_y;
  bool y_from_zero = false;  // start the y axis at 0 (memory, throughput)
  int width = 540;           // px, the viewBox's size too
  int height = 290;
};

// The chart as one <svg> element. A chart with no finite point says so in its body.
std::string SvgLineChart(const LineChart& chart);

// About `count` round tick values ("nice numbers": 1, 2 or 5 times a power of ten) that
// cover [lo, hi]; the first <= lo and the last >= hi.
std::vector<double> NiceTicks(double lo, double hi, int count);

// Text made safe inside HTML/SVG text and attribute values.
std::string HtmlEscape(const std::string& text);

}  // namespace zerod::client
