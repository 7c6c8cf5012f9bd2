// The HTML report on a synthetic job: the plots are there with the series' values, the
// facts and the last step's parts are in the page, and nothing in it reaches outside.
#include "client/report_html.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "tests/client/synthetic_job.h"

namespace zerod::client {
namespace {

TEST(ReportHtmlTest, HasAPlotPerQuantityWithTheSeriesValues) {
  const ReportInput in = SyntheticJob(20);
  const std::string html = ReportHtml(in);
  for (const char* id : {"id=\"loss\"", "id=\"lr\"", "id=\"tokens\"", "id=\"memory\""})
    EXPECT_NE(html.find(id), std::string::npos) << id;
  // One polyline per series: loss, lr, tokens/s and the three memory lines.
  size_t polylines = 0;
  for (size_t at = html.find("<polyline"); at != std::string::npos;
       at = html.find("<polyline", at + 1))
    ++polylines;
  EXPECT_EQ(polylines, 6u);
  for (const char* series :
       {"data-series=\"GPU peak\"", "data-series=\"host RSS\"", "data-series=\"host peak RSS\""})
    EXPECT_NE(html.find(series), std::string::npos) << series;
  // Every step's loss, in the steps table and the points' tooltips.
  for (const auto& s : in.steps) {
    char loss[32];
    std::snprintf(loss, sizeof loss, "%.4f", s.loss());
    EXPECT_NE(html.find(std::string("<td class=\"num\">") + loss + "</td>"), std::string::npos)
        << loss;
  }
  EXPECT_NE(html.find("step 1: 4"), std::string::npos) << "a tooltip with the first loss";
}

TEST(ReportHtmlTest, TheLossLineFallsWhenTheLossFalls) {
  const std::string html = ReportHtml(SyntheticJob(20));
  const size_t chart = html.find("id=\"loss\"");
  const size_t points = html.find("points=\"", chart) + 8;
  const std::string list = html.substr(points, html.find('"', points) - points);
  // SVG's y grows downwards: a falling loss ends lower on the page, a larger y.
  std::smatch first, last;
  const std::regex pair("([0-9.]+),([0-9.]+)");
  ASSERT_TRUE(std::regex_search(list, first, pair)) << list;
  const std::string tail = list.substr(list.rfind(' ') + 1);
  ASSERT_TRUE(std::regex_match(tail, last, pair)) << tail;
  EXPECT_LT(std::stod(first[1]), std::stod(last[1]));
  EXPECT_LT(std::stod(first[2]), std::stod(last[2]));
}

TEST(ReportHtmlTest, HasTheJobsFactsAndTheLastStepsParts) {
  const std::string html = ReportHtml(SyntheticJob(20));
  for (const char* fact : {"job-7", "SUCCEEDED", "20 / 20", "/models/tiny-llama", "1234567", "cpu",
                           "float32", "ranks"})
    EXPECT_NE(html.find(fact), std::string::npos) << fact;
  EXPECT_NE(html.find("Where step 20's 0.500 s went"), std::string::npos);
  for (const char* part : {"forward", "backward", "optimizer", "transfers waiting",
                           "optimizer waiting", "0.200", "0.150", "0.100"})
    EXPECT_NE(html.find(part), std::string::npos) << part;
  EXPECT_NE(html.find("Memory per rank at step 20"), std::string::npos);
  EXPECT_NE(html.find("300.0 MiB"), std::string::npos) << "rank 1's RSS";
}

TEST(ReportHtmlTest, IsSelfContained) {
  const std::string html = ReportHtml(SyntheticJob(20));
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  // Nothing fetched: no src= at all, and no href= other than a page-local "#...".
  EXPECT_EQ(html.find("src="), std::string::npos);
  for (size_t at = html.find("href="); at != std::string::npos; at = html.find("href=", at + 1))
    EXPECT_EQ(html.substr(at, 7), "href=\"#");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(ReportHtmlTest, EscapesTheJobsText) {
  ReportInput in = SyntheticJob(2);
  in.job.set_name("<script>alert(1)</script>");
  const std::string html = ReportHtml(in);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
}

TEST(ReportHtmlTest, AJobWithoutStepsSaysSo) {
  ReportInput in = SyntheticJob(0);
  in.job.set_state(v1::QUEUED);
  const std::string html = ReportHtml(in);
  EXPECT_NE(html.find("No steps yet"), std::string::npos);
  EXPECT_EQ(html.find("<polyline"), std::string::npos);
}

}  // namespace
}  // namespace zerod::client
