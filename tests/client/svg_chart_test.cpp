// The SVG line chart: round ticks covering the data, the points inside the plot area,
// a chart without data saying so.
#include "client/svg_chart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace zerod::client {
namespace {

TEST(NiceTicksTest, AreRoundAndCoverTheRange) {
  EXPECT_EQ(NiceTicks(2.03, 3.98, 5), (std::vector<double>{2.0, 2.5, 3.0, 3.5, 4.0}));
  EXPECT_EQ(NiceTicks(0, 1000, 5), (std::vector<double>{0, 500, 1000}));
  const std::vector<double> t = NiceTicks(1, 12, 6);
  EXPECT_LE(t.front(), 1);
  EXPECT_GE(t.back(), 12);
  EXPECT_EQ(t[1] - t[0], 5);
  // One value: a band around it, not a zero-width axis.
  const std::vector<double> one = NiceTicks(5, 5, 5);
  EXPECT_LT(one.front(), 5);
  EXPECT_GT(one.back(), 5);
  const std::vector<double> lr = NiceTicks(2e-4, 1e-3, 5);
  EXPECT_NEAR(lr.front(), 2e-4, 1e-12);
  EXPECT_NEAR(lr.back(), 1e-3, 1e-12);
}

TEST(SvgLineChartTest, DrawsEachSeriesInsideThePlot) {
  LineChart c;
  c.id = "c";
  c.title = "Loss";
  c.series.push_back({"a", "#000", {{1, 4.0}, {2, 3.0}, {3, 2.5}}});
  c.series.push_back({"b", "#111", {{1, 1.0}, {2, 1.5}, {3, std::nan("")}}});
  const std::string svg = SvgLineChart(c);
  EXPECT_EQ(svg.rfind("<svg id=\"c\"", 0), 0u);
  EXPECT_NE(svg.find("data-series=\"a\""), std::string::npos);
  EXPECT_NE(svg.find("data-series=\"b\""), std::string::npos);
  EXPECT_NE(svg.find(">Loss</text>"), std::string::npos);
  EXPECT_NE(svg.find("class=\"legend\""), std::string::npos) << "two series: a legend";
  EXPECT_NE(svg.find("step 2: 3</title>"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos) << "a non-finite point is left out";
}

TEST(SvgLineChartTest, WithoutDataSaysSo) {
  LineChart c;
  c.id = "e";
  c.title = "Empty";
  c.series.push_back({"a", "#000", {}});
  const std::string svg = SvgLineChart(c);
  EXPECT_NE(svg.find("no data"), std::string::npos);
  EXPECT_EQ(svg.find("<polyline"), std::string::npos);
}

TEST(HtmlEscapeTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(HtmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

}  // namespace
}  // namespace zerod::client
