// ValidateJobSpec's output targets and resume (engine/config/job_spec.h): a save or
// export target that is not zerod's, or that is or holds the job's inputs or the daemons'
// state directory, is refused when the job is submitted, with nothing touched; --resume
// of a save directory takes its newest complete checkpoint.
#include "engine/config/job_spec.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/checkpoint/checkpoint_dir.h"
#include "engine/util/files.h"
#include "tests/support/test_env.h"

namespace zerod::config {
namespace {

using zerod::testing::TempDir;
using zerod::testing::WriteText;

bool Contains(const absl::Status& s, const std::string& part) {
  return s.message().find(part) != std::string::npos;
}

// A job that validates: a model directory, an inline config, a data file.
JobSpec Valid(const TempDir& tmp) {
  EXPECT_TRUE(MakeDirectories(tmp.File("model")).ok());
  WriteText(tmp.File("model/config.json"), zerod::testing::TinyLlamaConfigJson());
  WriteText(tmp.File("model/model.safetensors"), "weights");
  WriteText(tmp.File("data.bin"), "tokens");
  JobSpec spec;
  spec.model_dir = tmp.File("model");
  spec.ds_config_json = "{}";
  spec.data_path = tmp.File("data.bin");
  return spec;
}

// A complete checkpoint at `dir` (step `step`), as a job writes it.
void Checkpoint(const std::string& dir, const std::string& model_dir, int64_t step) {
  ASSERT_TRUE(checkpoint::PrepareStaging(dir).ok());
  WriteText(checkpoint::RankStateFile(checkpoint::StagingDir(dir), 0, 1), "state");
  checkpoint::CheckpointMeta meta;
  meta.step = step;
  meta.dtype = "float32";
  ASSERT_TRUE(checkpoint::WriteMeta(checkpoint::StagingDir(dir), meta, model_dir).ok());
  ASSERT_TRUE(checkpoint::Publish(dir).ok());
}

TEST(JobSpecTest, ASaveDirHoldingOtherFilesIsRefusedAtSubmitAndLeftAsItWas) {
  TempDir tmp;
  JobSpec spec = Valid(tmp);
  ASSERT_TRUE(MakeDirectories(tmp.File("p/sub")).ok());
  WriteText(tmp.File("p/notes.txt"), "important");
  spec.save_dir = tmp.File("p");
  const absl::Status s = ValidateJobSpec(&spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(s.message().substr(0, 9), "save_dir:") << s;
  EXPECT_TRUE(Contains(s, "notes.txt")) << s;
  EXPECT_TRUE(Contains(s, "sub/")) << s;
  EXPECT_EQ(ReadFileToString(tmp.File("p/notes.txt")), "important");
  EXPECT_TRUE(IsDirectory(tmp.File("p/sub")));
}

TEST(JobSpecTest, AnExportIntoOtherFilesIsRefusedAtSubmit) {
  TempDir tmp;
  JobSpec spec = Valid(tmp);
  ASSERT_TRUE(MakeDirectories(tmp.File("hf")).ok());
  WriteText(tmp.File("hf/README.md"), "my model card");
  spec.export_hf_dir = tmp.File("hf");
  const absl::Status s = ValidateJobSpec(&spec);
  EXPECT_EQ(s.message().substr(0, 14), "export_hf_dir:") << s;
  EXPECT_TRUE(Contains(s, "README.md")) << s;
}

// The model directory looks like an export (config.json, model.safetensors): only the
// rule against the job's own inputs keeps an export from overwriting it.
TEST(JobSpecTest, AnExportIntoTheModelDirectoryIsRefused) {
  TempDir tmp;
  JobSpec spec = Valid(tmp);
  spec.export_hf_dir = tmp.File("model");
  const absl::Status s = ValidateJobSpec(&spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(Contains(s, "is the job's model directory")) << s;
}

TEST(JobSpecTest, ATargetHoldingTheModelOrTheDataIsRefusedNamingIt) {
  TempDir tmp;
  JobSpec spec = Valid(tmp);
  spec.save_dir = tmp.path();
  absl::Status s = ValidateJobSpec(&spec);
  EXPECT_TRUE(Contains(s, "holds the job's model directory")) << s;
  spec.save_dir.clear();
  ASSERT_TRUE(MakeDirectories(tmp.File("out")).ok());
  WriteText(tmp.File("out/data.bin"), "tokens");
  spec.data_path = tmp.File("out/data.bin");
  spec.export_hf_dir = tmp.File("out");
  s = ValidateJobSpec(&spec);
  EXPECT_TRUE(Contains(s, "holds the job's data file")) << s;
}

TEST(JobSpecTest, TheDaemonsStateDirectoryIsNeverATarget) {
  TempDir tmp;
  JobSpec spec = Valid(tmp);
  const std::string state = tmp.File("state");
  ASSERT_TRUE(MakeDirectories(state).ok());
  WriteText(JoinPath(state, "jobs.jsonl"), "{}\n");
  spec.save_dir = state;
  absl::Status s = ValidateJobSpec(&spec, {state});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(Contains(s, "is the daemons' state directory")) << s;
  // Through another spelling of the same path, and from above it.
  spec.save_dir = tmp.path() + "/./state/";
  EXPECT_TRUE(Contains(ValidateJobSpec(&spec, {state}), "daemons' state directory"));
  spec.save_dir.clear();
  spec.export_hf_dir = tmp.path();
  EXPECT_FALSE(ValidateJobSpec(&spec, {state}).ok());
  EXPECT_EQ(ReadFileToString(JoinPath(state, "jobs.jsonl")), "{}\n");
}

TEST(JobSpecTest, AnEarlierCheckpointOrANewDirectoryIsATarget) {
  TempDir tmp;
  JobSpec spec = Valid(tmp);
  spec.save_dir = tmp.File("new/ckpt");
  spec.export_hf_dir = tmp.File("new/hf");
  EXPECT_TRUE(ValidateJobSpec(&spec).ok());
  Checkpoint(tmp.File("ck"), spec.model_dir, 3);
  spec.save_dir = spec.resume_from = tmp.File("ck");
  EXPECT_TRUE(ValidateJobSpec(&spec).ok()) << ValidateJobSpec(&spec);
}

// After a crash with --save-every the save directory holds only step_ checkpoints: the
// advice "--resume SAVE_DIR" must resume, from the newest of them.
TEST(JobSpecTest, ResumingASaveDirectoryTakesItsNewestCompleteCheckpoint) {
  TempDir tmp;
  JobSpec spec = Valid(tmp);
  const std::string save = tmp.File("save");
  Checkpoint(checkpoint::PeriodicCheckpointDir(save, 20), spec.model_dir, 20);
  Checkpoint(checkpoint::PeriodicCheckpointDir(save, 40), spec.model_dir, 40);
  ASSERT_TRUE(MakeDirectories(checkpoint::StagingDir(checkpoint::PeriodicCheckpointDir(save, 60)))
                  .ok());  // cut short
  spec.resume_from = save;
  ASSERT_TRUE(ValidateJobSpec(&spec).ok()) << ValidateJobSpec(&spec);
  EXPECT_EQ(spec.resume_from, checkpoint::PeriodicCheckpointDir(save, 40));
  EXPECT_TRUE(ValidateJobSpec(&spec).ok()) << "idempotent";
  EXPECT_EQ(spec.resume_from, checkpoint::PeriodicCheckpointDir(save, 40));
}

TEST(JobSpecTest, ResumingADirectoryWithoutAnyCheckpointIsRefused) {
  TempDir tmp;
  JobSpec spec = Valid(tmp);
  spec.resume_from = tmp.File("model");
  const absl::Status s = ValidateJobSpec(&spec);
  EXPECT_EQ(s.message().substr(0, 12), "resume_from:") << s;
  EXPECT_TRUE(Contains(s, "is not a zerod checkpoint")) << s;
}

}  // namespace
}  // namespace zerod::config
