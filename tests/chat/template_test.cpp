// The chat-template language's own behaviour beyond what the transformers fixtures pin:
// what is refused and how errors read (file and line), raise_exception, the bounds that
// stop runaway templates, strftime_now, the generation block.
#include "engine/chat/template.h"

#include <string>

#include "engine/chat/builtins.h"
#include "gtest/gtest.h"

namespace zerod::chat {
namespace {

absl::StatusOr<std::string> Render(const std::string& source, RenderLimits limits = {},
                                   std::time_t now = 0) {
  auto t = Template::Parse(source, "t.jinja");
  if (!t.ok()) return t.status();
  Dict vars;
  vars.Set("messages", FromJson(nlohmann::ordered_json::parse(R"([{"role": "user"}])")));
  RenderRequest req;
  req.variables = &vars;
  req.limits = limits;
  req.now = now;
  return t->Render(req);
}

void ExpectError(const std::string& source, const std::string& part, RenderLimits limits = {}) {
  auto out = Render(source, limits);
  ASSERT_FALSE(out.ok()) << source << " rendered " << *out;
  EXPECT_NE(out.status().message().find(part), std::string::npos)
      << "error of " << source << ": " << out.status();
}

TEST(ChatTemplate, UnsupportedStatementsAreRefusedWithFileAndLine) {
  ExpectError("a\n{% include 'other.jinja' %}", "t.jinja:2: {% include %} is not supported");
  ExpectError("{% extends 'base' %}", "t.jinja:1: {% extends %}");
  ExpectError("\n\n{% call f() %}x{% endcall %}", "t.jinja:3");
  ExpectError("{% for x in xs recursive %}{% endfor %}", "recursive");
  ExpectError("{% set a, b = 1, 2 %}", "tuple assignment");
}

TEST(ChatTemplate, UnknownFiltersAndTestsAreRefusedByName) {
  ExpectError("\n{{ x | wordwrap(3) }}", "t.jinja:2: filter 'wordwrap' is not supported");
  ExpectError("{{ x is ascii }}", "test 'is ascii' is not supported");
}

TEST(ChatTemplate, SyntaxErrorsNameTheLine) {
  ExpectError("ok\n{% if true %}\nno end", "t.jinja:2: block opened here is never closed");
  ExpectError("{{ 'open }}", "unterminated string");
  ExpectError("\n\n{{ 1 + }}", "t.jinja:3: expected an expression");
}

TEST(ChatTemplate, RaiseExceptionMessageComesThroughMarked) {
  auto out = Render("x\n{{ raise_exception('Conversation roles must alternate') }}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "t.jinja:2: raise_exception: Conversation roles must alternate");
  EXPECT_TRUE(out.status().GetPayload(kRaisedPayload).has_value());
}

TEST(ChatTemplate, UndefinedUsesFailWithJinjasWording) {
  ExpectError("{{ nope.role }}", "t.jinja:1: 'nope' is undefined");
  ExpectError("{{ messages[0].content.strip() }}", "'dict object' has no attribute 'content'");
  auto out = Render("[{{ nope }}][{{ messages[0].content }}][{{ nope is defined }}]");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "[][][False]");
}

TEST(ChatTemplate, RunawayLoopsStopAtTheStepBound) {
  RenderLimits limits;
  limits.max_steps = 1000;
  ExpectError("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}",
              "more than 1000 steps", limits);
}

TEST(ChatTemplate, BuildingHugeValuesCostsSteps) {
  RenderLimits limits;
  limits.max_steps = 10000;
  ExpectError(
      "{% set ns = namespace(s='x' * 1000000) %}{% for i in range(100) %}"
      "{% set ns.s = ns.s[1:] ~ 'y' %}{% endfor %}",
      "more than 10000 steps", limits);
}

TEST(ChatTemplate, OutputStopsAtItsBound) {
  RenderLimits limits;
  limits.max_output_bytes = 100;
  ExpectError("{% for i in range(50) %}abc{% endfor %}", "the output exceeds 100 bytes", limits);
}

TEST(ChatTemplate, RecursiveMacrosStopAtTheDepthBound) {
  ExpectError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested deeper than 64");
}

TEST(ChatTemplate, HugeValuesAreRefused) {
  ExpectError("{{ 'x' * 1000000000 }}", "too long");
  ExpectError("{{ range(100000000) | length }}", "too many items");
  ExpectError("{{ 9223372036854775807 + 1 }}", "integer overflow");
  // Python's int() would give a big integer; zerod's are 64-bit (found by the fuzzer).
  ExpectError("{{ '39999999999999999999999999999999999999.7'|int }}", "integer overflow");
  ExpectError("{{ '99999999999999999999'|int }}", "integer overflow");
  ExpectError("{{ 1e30|int }}", "integer overflow");
  // A format index past size_t is a missing argument, as Python's IndexError says.
  ExpectError("{{ '{99999999999999999999}'.format(1) }}", "no argument for {99999999999999999999}");
}

TEST(ChatTemplate, DeepNestingIsRefusedWhenParsed) {
  ExpectError("{{ " + std::string(500, '(') + "1" + std::string(500, ')') + " }}", "nested deeper");
  std::string blocks;
  for (int i = 0; i < 300; ++i) blocks += "{% if true %}";
  ExpectError(blocks, "nested deeper");
}

TEST(ChatTemplate, StrftimeNowFormatsTheGivenTime) {
  // 2026-07-01 12:00 UTC: the same year and month in every time zone.
  auto out = Render("{{ strftime_now('%Y-%m') }}", {}, 1782907200);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "2026-07");
}

TEST(ChatTemplate, GenerationBlockRendersItsBody) {
  auto out = Render("a{% generation %}b{{ 1 }}{% endgeneration %}c");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "ab1c");
}

}  // namespace
}  // namespace zerod::chat
