// The table of job fields (engine/config/job_fields.h) walked through every border it
// drives: each field is a zerod.v1.JobSpec field of the same name and type; a value given as
// a flag (zerod's modes and zeroctl submit: the one AddJobFlags) or as a YAML key comes back
// the same after ToProto and FromProto; a bad value is refused with one message by the flags
// of every mode, the YAML file (then CheckJobValues) and the service's validation; each
// default is written once in the sources.
#include "engine/config/job_fields.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/validate.h"
#include "engine/config/job_file.h"
#include "engine/config/job_flags.h"
#include "proto/wire.h"

namespace zerod::config {
namespace {

using google::protobuf::FieldDescriptor;

constexpr JobMode kModes[] = {kTrainMode, kEvalMode, kPlanMode, kSubmitMode};

// A value of the field that is not its default and passes its check.
std::string GoodValue(const JobField& f) {
  if (!f.check.choices.empty()) {
    for (const std::string& c : f.check.choices) {
      if (c != DefaultText(f)) return c;
    }
  }
  switch (f.type) {
    case FieldType::kText:
      return "some text";
    case FieldType::kPath:
      return absl::StrCat("/data/", f.name);
    case FieldType::kInt:
      return f.check.min > 2 ? absl::StrCat(static_cast<int64_t>(f.check.min) + 1) : "3";
    case FieldType::kUint:
      return "77";
    case FieldType::kReal:
      return "0.25";
    case FieldType::kBool:
      return "true";
  }
  return "";
}

// A value of the right type that the field's check refuses; "" when it has none.
std::string BadValue(const JobField& f) {
  if (!f.check.choices.empty()) return "nonsense";
  if (f.check.max_bytes > 0) return std::string(f.check.max_bytes + 1, 'x');
  if (!std::isinf(f.check.min)) return absl::StrCat(static_cast<int64_t>(f.check.min) - 1);
  if (!std::isinf(f.check.max)) return absl::StrCat(static_cast<int64_t>(f.check.max) + 1);
  return "";
}

// A spec the service accepts (a model directory, an inline config, a data file), with the
// field `f` set to `value`.
v1::JobSpec ValidBut(const JobField& f, const std::string& value) {
  JobSpec spec;
  spec.model_dir = ZEROD_SOURCE_DIR "/configs/models/tiny-llama";
  spec.data_path = ZEROD_SOURCE_DIR "/configs/models/tiny-llama/config.json";
  if (f.name != std::string("ds_config_path")) spec.ds_config_json = "{}";
  EXPECT_TRUE(SetFieldFromText(f, value, &spec).ok());
  return wire::ToProto(spec);
}

// Parses `args` with the flags of `mode`; the spec, or the parse error's message.
struct Parsed {
  JobSpec spec;
  std::string error;
};
Parsed ParseFlags(JobMode mode, std::vector<std::string> args) {
  Parsed out;
  CLI::App app;
  AddJobFlags(app, mode, &out.spec);
  args.insert(args.begin(), "prog");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
  } catch (const CLI::ParseError& e) {
    out.error = ParseErrorMessage(app, e, "prog");
  }
  return out;
}

std::vector<std::string> FlagArgs(const JobField& f, const std::string& flag,
                                  const std::string& value) {
  if (f.type == FieldType::kBool) return {flag};
  return {flag, value};
}

// Every field but `except` holds its default.
void ExpectDefaultsBut(const JobSpec& spec, const JobField* except, const std::string& where) {
  for (const JobField& f : JobFields()) {
    if (&f == except) continue;
    EXPECT_EQ(FieldText(f, spec), DefaultText(f)) << f.name << " changed by " << where;
  }
}

TEST(JobFieldsTest, EveryFieldIsAMessageFieldOfTheSameNameTypeAndPresence) {
  const auto* message = v1::JobSpec::descriptor();
  for (const JobField& f : JobFields()) {
    const FieldDescriptor* pf = message->FindFieldByName(f.name);
    ASSERT_NE(pf, nullptr) << f.name << " is not a zerod.v1.JobSpec field";
    const FieldDescriptor::CppType want = std::visit(
        [](auto member) {
          using T = std::decay_t<decltype(JobSpec{}.*member)>;
          if constexpr (std::is_same_v<T, std::string>) return FieldDescriptor::CPPTYPE_STRING;
          if constexpr (std::is_same_v<T, bool>) return FieldDescriptor::CPPTYPE_BOOL;
          if constexpr (std::is_same_v<T, uint64_t>) return FieldDescriptor::CPPTYPE_UINT64;
          if constexpr (std::is_same_v<T, std::optional<double>>)
            return FieldDescriptor::CPPTYPE_DOUBLE;
          return FieldDescriptor::CPPTYPE_INT64;
        },
        f.member);
    EXPECT_EQ(pf->cpp_type(), want) << f.name;
    EXPECT_EQ(pf->has_presence(), f.unset == WireUnset::kAbsent)
        << f.name << ": an `optional` message field is what kAbsent means";
    if (f.unset == WireUnset::kEmpty) {
      EXPECT_EQ(pf->cpp_type(), FieldDescriptor::CPPTYPE_STRING) << f.name;
      EXPECT_FALSE(DefaultText(f).empty()) << f.name;
    }
    // A default the message's zero would not say is kept by kAbsent or kEmpty.
    if (f.unset == WireUnset::kAsIs && f.type != FieldType::kBool &&
        f.name != std::string("steps")) {
      EXPECT_TRUE(DefaultText(f).empty() || DefaultText(f) == "0")
          << f.name << ": its default " << DefaultText(f) << " would be lost on the wire";
    }
  }
  for (int i = 0; i < message->field_count(); ++i) {
    EXPECT_NE(FindJobField(message->field(i)->name()), nullptr)
        << "zerod.v1.JobSpec." << message->field(i)->name() << " is not in the table";
  }
}

TEST(JobFieldsTest, AnUnsetSpecCrossesTheWireAsItsDefaults) {
  ExpectDefaultsBut(wire::FromProto(wire::ToProto(JobSpec{})), nullptr, "the wire");
  // An empty message (a client that sets nothing): every default but the required steps.
  ExpectDefaultsBut(wire::FromProto(v1::JobSpec{}), FindJobField("steps"), "an empty message");
  EXPECT_EQ(wire::FromProto(v1::JobSpec{}).steps, 0) << "refused by validation, not defaulted";
}

TEST(JobFieldsTest, EveryFieldRoundTripsFlagSpecProtoSpecAndYaml) {
  for (const JobField& f : JobFields()) {
    const std::string value = GoodValue(f);
    SCOPED_TRACE(absl::StrCat(f.name, " = ", value));
    // YAML, under its name and each older key.
    std::vector<std::string> keys = {f.name};
    for (const char* alias : f.yaml_aliases) keys.push_back(alias);
    for (const std::string& key : keys) {
      auto yaml = ParseJobFile(absl::StrCat(key, ": ", value, "\n"), "job.yaml");
      ASSERT_TRUE(yaml.ok()) << yaml.status();
      EXPECT_EQ(FieldText(f, *yaml), value) << "YAML key " << key;
      ExpectDefaultsBut(*yaml, &f, "YAML key " + key);
      const JobSpec back = wire::FromProto(wire::ToProto(*yaml));
      EXPECT_EQ(FieldText(f, back), value) << "YAML -> proto -> spec";
    }
    if (f.flag == nullptr) continue;  // the inline config's JSON: the wire and files only
    ASSERT_NE(f.modes, 0u) << f.name;
    for (const JobMode mode : kModes) {
      if ((f.modes & mode) == 0) continue;
      std::vector<std::string> spellings = {f.flag, absl::StrCat("--", f.name)};
      for (const char* alias : f.flag_aliases) spellings.push_back(alias);
      for (const std::string& flag : spellings) {
        const Parsed p = ParseFlags(mode, FlagArgs(f, flag, value));
        ASSERT_EQ(p.error, "") << flag << " in mode " << mode;
        EXPECT_EQ(FieldText(f, p.spec), value) << flag;
        ExpectDefaultsBut(p.spec, &f, flag);
        const JobSpec back = wire::FromProto(wire::ToProto(p.spec));
        EXPECT_EQ(FieldText(f, back), value) << flag << " -> proto -> spec";
        ExpectDefaultsBut(back, &f, flag + " -> proto");
      }
    }
  }
}

TEST(JobFieldsTest, ABadValueIsRefusedWithOneMessageByEveryFlagTheFileAndTheService) {
  int checked = 0;
  for (const JobField& f : JobFields()) {
    const std::string bad = BadValue(f);
    if (bad.empty()) continue;
    SCOPED_TRACE(f.name);
    JobSpec with_bad;
    ASSERT_TRUE(SetFieldFromText(f, bad, &with_bad).ok());
    const absl::Status want = CheckField(f, with_bad);
    ASSERT_FALSE(want.ok()) << bad;
    const std::string message(want.message());
    EXPECT_EQ(message.rfind(absl::StrCat(f.name, ": "), 0), 0u) << message;
    // The YAML file reads it; the one check refuses it.
    auto yaml = ParseJobFile(absl::StrCat(f.name, ": ", bad, "\n"), "job.yaml");
    ASSERT_TRUE(yaml.ok()) << yaml.status();
    EXPECT_EQ(CheckJobValues(*yaml).message(), message);
    // The service: the message over the wire, checked by the coordinator's validation.
    v1::JobSpec sent = ValidBut(f, bad);
    EXPECT_EQ(coordinator::ValidateJobSpec(&sent).message(), message);
    // Every mode's flags (zerod --train/--eval/--plan, zeroctl submit).
    for (const JobMode mode : kModes) {
      if (f.flag == nullptr || (f.modes & mode) == 0) continue;
      EXPECT_EQ(ParseFlags(mode, {f.flag, bad}).error, message) << "mode " << mode;
    }
    ++checked;
  }
  EXPECT_GE(checked, 12);
}

TEST(JobFieldsTest, ServiceValidationGivesTheTablesMessage) {
  // A value only the range refuses, with everything else valid, reaches the field's check.
  const JobField& save_every = *FindJobField("save_every");
  v1::JobSpec spec = ValidBut(save_every, "-1");
  JobSpec bad;
  bad.save_every = -1;
  EXPECT_EQ(coordinator::ValidateJobSpec(&spec).message(), CheckField(save_every, bad).message());
  spec.set_save_every(0);
  EXPECT_TRUE(coordinator::ValidateJobSpec(&spec).ok()) << "save_every 0 is never, everywhere";
  EXPECT_EQ(ParseFlags(kTrainMode, {"--save-every", "0"}).error, "");
  EXPECT_EQ(ParseFlags(kSubmitMode, {"--save-every", "0"}).error, "");
}

TEST(JobFieldsTest, AWrongTypeIsNamedTheSameByAFlagAndTheFile) {
  const Parsed p = ParseFlags(kTrainMode, {"--steps", "many"});
  EXPECT_EQ(p.error, "--steps: must be a whole number, got \"many\"");
  auto yaml = ParseJobFile("steps: many\n", "job.yaml");
  EXPECT_EQ(yaml.status().message(), "job.yaml:1: steps must be a whole number, got \"many\"");
}

TEST(JobFieldsTest, TrainerAndDeepSpeedSpellingsAreAcceptedAndOthersRefusedNamingZerods) {
  Parsed p =
      ParseFlags(kTrainMode, {"--deepspeed", "ds.json", "--learning_rate", "1e-4",
                              "--per_device_train_batch_size", "2", "--gradient_accumulation_steps",
                              "4", "--max_steps", "9", "--output_dir", "out", "--bf16"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.spec.ds_config_path, "ds.json");
  EXPECT_EQ(p.spec.lr, 1e-4);
  EXPECT_EQ(p.spec.micro_batch_size, 2);
  EXPECT_EQ(p.spec.grad_accum, 4);
  EXPECT_EQ(p.spec.steps, 9);
  EXPECT_EQ(p.spec.save_dir, "out");
  EXPECT_EQ(p.spec.precision, "bf16");
  EXPECT_EQ(ParseFlags(kTrainMode, {"--fp16"}).spec.precision, "fp16");
  // DeepSpeed's launch line: --deepspeed as a switch beside --deepspeed_config.
  p = ParseFlags(kTrainMode, {"--deepspeed", "--deepspeed_config", "ds.json"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.spec.ds_config_path, "ds.json");
  // Epochs of fine-tuning samples (job_spec.h): the Trainer's spelling is --epochs.
  p = ParseFlags(kTrainMode, {"--num_train_epochs", "3"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.spec.epochs, 3);
  p = ParseFlags(kTrainMode, {"--warmup_ratio", "0.1"});
  EXPECT_NE(p.error.find("--warmup_ratio: Hugging Face Trainer's, not zerod's"), std::string::npos)
      << p.error;
}

TEST(JobFieldsTest, FineTuningFieldsAreCheckedTogether) {
  JobSpec spec;
  spec.eval_every = 10;
  EXPECT_NE(CheckJobValues(spec).message().find("eval_every: --eval-every needs an evaluation"),
            std::string::npos);
  spec.eval_split = 0.02;
  EXPECT_TRUE(CheckJobValues(spec).ok()) << CheckJobValues(spec);
  spec.eval_data = "eval.bin";
  EXPECT_NE(CheckJobValues(spec).message().find("eval_split: --split and --eval-data"),
            std::string::npos);
  spec.eval_data.clear();
  spec.save_best = true;
  EXPECT_NE(CheckJobValues(spec).message().find("save_best: --save-best needs --save-dir"),
            std::string::npos);
  spec.save_dir = "out";
  EXPECT_TRUE(CheckJobValues(spec).ok()) << CheckJobValues(spec);
  spec.packing = "maybe";
  EXPECT_NE(CheckJobValues(spec).message().find("packing: 'maybe' is not on or off"),
            std::string::npos)
      << CheckJobValues(spec);
  spec.packing = "off";
  spec.eval_split = 1.0;
  EXPECT_FALSE(CheckJobValues(spec).ok());
}

TEST(JobFieldsTest, AnUnknownFlagGetsTheClosestKnownOne) {
  Parsed p = ParseFlags(kTrainMode, {"--seq-lenn", "8"});
  EXPECT_NE(p.error.find("--seq-lenn is not a flag of prog; did you mean --seq-len?"),
            std::string::npos)
      << p.error;
  // A near miss of a hidden spelling suggests the flag it stands for.
  p = ParseFlags(kTrainMode, {"--learning-rate", "1"});
  EXPECT_NE(p.error.find("did you mean --lr?"), std::string::npos) << p.error;
}

// The defaults are JobSpec's member initialisers: no other source spells one beside its
// field's name (a second `seq_len = 128` is a copy that drifts).
TEST(JobFieldsTest, EachDefaultIsWrittenOnceInTheSources) {
  namespace fs = std::filesystem;
  std::vector<std::pair<const JobField*, std::regex>> patterns;
  for (const JobField& f : JobFields()) {
    const std::string def = DefaultText(f);
    if (def.empty() || def == "0" || def == "false") continue;
    const std::string quoted = f.type == FieldType::kText ? absl::StrCat("\"", def, "\"") : def;
    patterns.emplace_back(&f, std::regex(absl::StrCat("\\b", f.name, "\\s*=\\s*", quoted, "\\b")));
  }
  ASSERT_FALSE(patterns.empty());
  const fs::path root = ZEROD_SOURCE_DIR;
  for (const char* dir : {"engine", "daemon", "client", "coordinator", "proto"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cpp") continue;
      const std::string rel = fs::relative(entry.path(), root).string();
      if (rel == "engine/config/job_spec.h") continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      const std::string s = text.str();
      for (const auto& [field, re] : patterns) {
        EXPECT_FALSE(std::regex_search(s, re))
            << rel << " writes " << field->name << "'s default " << DefaultText(*field)
            << " again (it is JobSpec's, engine/config/job_spec.h)";
      }
    }
  }
}

}  // namespace
}  // namespace zerod::config
