#include "engine/config/job_flags.h"

#include <cstdint>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "engine/util/edit_distance.h"

namespace zerod::config {
namespace {

// The description of a hidden spelling: ParseErrorMessage suggests the flag it stands for.
constexpr char kAliasOf[] = "alias of ";
constexpr char kRefused[] = "refused: ";

// Flags of Hugging Face's Trainer (and DeepSpeed's launcher) that mean something zerod
// does another way: refused, naming what to give instead. Those that mean the same as a
// job field are the fields' flag_aliases (job_fields.cpp).
struct ForeignFlag {
  const char* flag;
  const char* instead;
};
constexpr ForeignFlag kForeignFlags[] = {
    {"--warmup_ratio", "give the warm-up as steps: --warmup-steps N"},
    {"--lr_scheduler_type",
     "the schedule is the DeepSpeed config's scheduler section (WarmupLR, WarmupDecayLR, "
     "WarmupCosineLR)"},
    {"--weight_decay", "set optimizer.params.weight_decay in the DeepSpeed config"},
    {"--max_grad_norm", "set gradient_clipping in the DeepSpeed config"},
    {"--logging_steps", "set steps_per_print in the DeepSpeed config"},
    {"--save_strategy", "periodic saves are by steps: --save-every N"},
    {"--report_to", "zerod writes TensorBoard event files: --tensorboard DIR"},
    {"--train_file", "give --data FILE: a dataset (.jsonl, .json, .csv, .parquet) or a token file"},
    {"--dataset_name", "give --data FILE: a dataset file (.jsonl, .json, .csv, .parquet)"},
    {"--do_eval", "give --eval-data FILE (or --split 0.02) and --eval-every N"},
    {"--eval_steps", "give --eval-data FILE (or --split 0.02) and --eval-every N"},
    {"--evaluation_strategy", "give --eval-data FILE (or --split 0.02) and --eval-every N"},
    {"--per_device_eval_batch_size",
     "zerod --eval forwards train_micro_batch_size_per_gpu windows per rank"},
};

// "--seq-len" -> "--seq_len"
std::string Underscored(const std::string& flag) {
  return absl::StrCat("--", absl::StrReplaceAll(flag.substr(2), {{"-", "_"}}));
}

// The help line: the field's help, its unit and its default.
std::string HelpOf(const JobField& f) {
  std::string help = f.help;
  const std::string def = DefaultText(f);
  if (f.type != FieldType::kBool && !def.empty()) {
    absl::StrAppend(&help, " (default ", def, *f.unit ? absl::StrCat(" ", f.unit) : "", ")");
  }
  if (!f.flag_aliases.empty()) {
    absl::StrAppend(&help, "; also ", absl::StrJoin(f.flag_aliases, ", "));
  }
  return help;
}

// Reads one flag's value into the field and checks it, as the YAML file and ValidateJobSpec
// would: the same spellings accepted, the same message for a bad value.
void SetChecked(const JobField& f, const std::string& flag, const std::string& text,
                JobSpec* spec) {
  if (absl::Status s = SetFieldFromText(f, text, spec); !s.ok()) {
    throw CLI::ValidationError(flag, std::string(s.message()));
  }
  if (absl::Status s = CheckField(f, *spec); !s.ok()) {
    throw CLI::ValidationError(std::string(s.message()));
  }
}

CLI::Option* AddOne(CLI::App& app, const JobField& f, const std::string& flag, JobSpec* spec) {
  if (f.type == FieldType::kBool) {
    return app.add_flag(flag, spec->*std::get<bool JobSpec::*>(f.member));
  }
  if (f.bare_value != nullptr) {
    return app
        .add_option_function<std::vector<std::string>>(
            flag,
            [&f, flag, spec](const std::vector<std::string>& v) {
              SetChecked(f, flag, v.empty() || v.front().empty() ? f.bare_value : v.front(), spec);
            })
        ->expected(0, 1)
        ->type_name(absl::StrCat("[", f.value_name, "]"));
  }
  return app
      .add_option_function<std::string>(
          flag, [&f, flag, spec](const std::string& text) { SetChecked(f, flag, text, spec); })
      ->type_name(f.value_name);
}

void AddField(CLI::App& app, const JobField& f, JobSpec* spec) {
  AddOne(app, f, f.flag, spec)->description(HelpOf(f));
  // The other spellings, hidden: Trainer's and DeepSpeed's, the field's name, underscores.
  std::set<std::string> spellings(f.flag_aliases.begin(), f.flag_aliases.end());
  spellings.insert(Underscored(f.flag));
  spellings.insert(absl::StrCat("--", f.name));
  spellings.erase(f.flag);
  for (const std::string& alias : spellings) {
    if (app.get_option_no_throw(alias) != nullptr) continue;
    AddOne(app, f, alias, spec)->description(absl::StrCat(kAliasOf, f.flag))->group("");
  }
}

}  // namespace

void AddJobFlags(CLI::App& app, JobMode mode, JobSpec* spec) {
  for (const JobField& f : JobFields()) {
    if (f.flag != nullptr && (f.modes & mode) != 0) AddField(app, f, spec);
  }
  const JobField& precision = *FindJobField("precision");
  if ((precision.modes & mode) != 0) {
    // Trainer's --bf16 / --fp16 switches: --precision bf16 / fp16.
    for (const char* p : {"bf16", "fp16"}) {
      app.add_flag_callback(
             absl::StrCat("--", p),
             [&precision, p, spec] { SetChecked(precision, "--precision", p, spec); },
             absl::StrCat(kAliasOf, "--precision ", p))
          ->group("");
    }
  }
  const JobField& ds_config = *FindJobField("ds_config_path");
  if ((ds_config.modes & mode) != 0) {
    // DeepSpeed launch lines say `--deepspeed --deepspeed_config FILE`, Trainer's
    // `--deepspeed FILE`: a value is the config, none is accepted as the switch it was.
    app.add_option_function<std::vector<std::string>>(
           "--deepspeed",
           [&ds_config, spec](const std::vector<std::string>& v) {
             if (!v.empty() && !v.front().empty())
               SetChecked(ds_config, "--deepspeed", v.front(), spec);
           },
           absl::StrCat(kAliasOf, "--ds-config"))
        ->expected(0, 1)
        ->group("");
  }
  for (const ForeignFlag& foreign : kForeignFlags) {
    const std::string flag = foreign.flag;
    if (app.get_option_no_throw(flag) != nullptr) continue;
    app.add_option_function<std::vector<std::string>>(
           flag,
           [flag, instead = std::string(foreign.instead)](const std::vector<std::string>&) {
             throw CLI::ValidationError(
                 flag, absl::StrCat("Hugging Face Trainer's, not zerod's; ", instead));
           },
           absl::StrCat(kRefused, foreign.instead))
        ->expected(0, 1)
        ->group("");
  }
}

std::string ParseErrorMessage(const CLI::App& app, const CLI::ParseError& e,
                              const std::string& what,
                              const std::function<std::string(const std::string&)>& elsewhere) {
  const auto* extras = dynamic_cast<const CLI::ExtrasError*>(&e);
  if (extras == nullptr) return e.what();
  // Every flag of the app and of its subcommands, with the name to suggest for it.
  std::vector<std::pair<std::string, std::string>> known;  // spelling, suggestion
  std::vector<const CLI::App*> apps = {&app};
  for (const CLI::App* sub : app.get_subcommands({})) apps.push_back(sub);
  for (const CLI::App* a : apps) {
    for (const CLI::Option* opt : a->get_options()) {
      const std::string& desc = opt->get_description();
      if (absl::StartsWith(desc, kRefused)) continue;
      for (const std::string& l : opt->get_lnames()) {
        std::string suggest = absl::StrCat("--", l);
        if (absl::StartsWith(desc, kAliasOf)) {
          suggest = std::string(absl::StripPrefix(desc, kAliasOf));
        }
        known.emplace_back(absl::StrCat("--", l), suggest);
      }
    }
  }
  std::vector<std::string> lines;
  std::vector<std::string> rest;
  const std::vector<std::string> args = app.remaining(/*recurse=*/true);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!absl::StartsWith(arg, "--")) {
      rest.push_back(arg);
      continue;
    }
    // The unknown flag's value, when it has one, is not a second error.
    if (arg.find('=') == std::string::npos && i + 1 < args.size() &&
        !absl::StartsWith(args[i + 1], "-")) {
      ++i;
    }
    const std::string name = arg.substr(0, arg.find('='));
    if (const std::string there = elsewhere ? elsewhere(name) : ""; !there.empty()) {
      lines.push_back(absl::StrCat(name, " is not a flag of ", what, there));
      continue;
    }
    std::string closest;
    size_t best = SIZE_MAX;
    for (const auto& [spelling, suggest] : known) {
      if (const size_t d = EditDistance(name, spelling); d < best) best = d, closest = suggest;
    }
    lines.push_back(closest.empty() ? absl::StrCat(name, " is not a flag of ", what)
                                    : absl::StrCat(name, " is not a flag of ", what,
                                                   "; did you mean ", closest, "?"));
  }
  if (!rest.empty()) {
    lines.push_back(absl::StrCat("unexpected argument(s): ", absl::StrJoin(rest, " ")));
  }
  if (lines.empty()) return e.what();
  return absl::StrJoin(lines, "\n");
}

}  // namespace zerod::config
