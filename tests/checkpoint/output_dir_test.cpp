// What a save or an export may replace (engine/checkpoint/output_dir.h), and that the
// checkpoint protocol (checkpoint_dir.h) refuses, removing nothing, where a directory
// holds what zerod did not write. The job-level refusals at submit:
// tests/config/job_spec_test.cpp; the service's: tests/e2e/save_safety_test.cpp.
#include "engine/checkpoint/output_dir.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/checkpoint/checkpoint_dir.h"
#include "engine/util/files.h"
#include "tests/support/test_env.h"

namespace zerod::checkpoint {
namespace {

using zerod::testing::TempDir;
using zerod::testing::WriteText;

bool Contains(const absl::Status& s, const std::string& part) {
  return s.message().find(part) != std::string::npos;
}

CheckpointMeta MetaAt(int64_t step) {
  CheckpointMeta m;
  m.step = step;
  m.lr_iteration = step;
  m.dtype = "float32";
  return m;
}

// A model directory holding only config.json, which WriteMeta copies.
std::string ModelDir(const TempDir& tmp) {
  const std::string dir = tmp.File("model");
  EXPECT_TRUE(MakeDirectories(dir).ok());
  WriteText(JoinPath(dir, "config.json"), R"({"model_type": "llama"})");
  return dir;
}

// A complete one-rank checkpoint at `dir`, as Job::SaveCheckpoint writes it.
absl::Status Save(const std::string& dir, const std::string& model_dir, int64_t step) {
  if (auto s = PrepareStaging(dir); !s.ok()) return s;
  WriteText(RankStateFile(StagingDir(dir), 0, 1), "rank state");
  if (auto s = WriteMeta(StagingDir(dir), MetaAt(step), model_dir); !s.ok()) return s;
  return Publish(dir);
}

// The user's directory of the issue's probe: notes.txt and sub/.
void UserFiles(const std::string& dir) {
  ASSERT_TRUE(MakeDirectories(JoinPath(dir, "sub")).ok());
  WriteText(JoinPath(dir, "notes.txt"), "important");
}

void ExpectUserFilesIntact(const std::string& dir) {
  EXPECT_EQ(ReadFileToString(JoinPath(dir, "notes.txt")), "important");
  EXPECT_TRUE(IsDirectory(JoinPath(dir, "sub")));
}

TEST(OutputDirTest, AMissingOrEmptyDirectoryTakesEitherOutput) {
  TempDir tmp;
  ASSERT_TRUE(MakeDirectories(tmp.File("empty")).ok());
  for (OutputKind kind : {OutputKind::kCheckpoint, OutputKind::kHfExport}) {
    EXPECT_TRUE(CheckReplaceable(tmp.File("missing"), kind).ok());
    EXPECT_TRUE(CheckReplaceable(tmp.File("empty"), kind).ok());
  }
}

TEST(OutputDirTest, AnEarlierCheckpointWithPeriodicOnesMayBeReplaced) {
  TempDir tmp;
  const std::string model = ModelDir(tmp), save = tmp.File("save");
  ASSERT_TRUE(Save(PeriodicCheckpointDir(save, 2), model, 2).ok());
  ASSERT_TRUE(Save(save, model, 4).ok());
  // A periodic save cut short leaves its staging directory beside the others.
  ASSERT_TRUE(MakeDirectories(StagingDir(PeriodicCheckpointDir(save, 3))).ok());
  EXPECT_TRUE(CheckReplaceable(save, OutputKind::kCheckpoint).ok())
      << CheckReplaceable(save, OutputKind::kCheckpoint);
}

TEST(OutputDirTest, ADirectoryWithOtherFilesIsRefusedNamingThem) {
  TempDir tmp;
  const std::string dir = tmp.File("p");
  UserFiles(dir);
  for (OutputKind kind : {OutputKind::kCheckpoint, OutputKind::kHfExport}) {
    const absl::Status s = CheckReplaceable(dir, kind);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_TRUE(Contains(s, "notes.txt")) << s;
    EXPECT_TRUE(Contains(s, "sub/")) << s;
    EXPECT_TRUE(Contains(s, "choose another directory")) << s;
  }
  ExpectUserFilesIntact(dir);
}

TEST(OutputDirTest, ManyForeignEntriesAreCountedNotAllListed) {
  TempDir tmp;
  const std::string dir = tmp.File("p");
  ASSERT_TRUE(MakeDirectories(dir).ok());
  for (int i = 0; i < 8; ++i) WriteText(JoinPath(dir, "f" + std::to_string(i)), "x");
  const absl::Status s = CheckReplaceable(dir, OutputKind::kCheckpoint);
  EXPECT_TRUE(Contains(s, "and 3 more")) << s;
}

TEST(OutputDirTest, AForeignFileInsideAPeriodicCheckpointIsNamedWithItsPath) {
  TempDir tmp;
  const std::string model = ModelDir(tmp), save = tmp.File("save");
  ASSERT_TRUE(Save(PeriodicCheckpointDir(save, 2), model, 2).ok());
  WriteText(JoinPath(PeriodicCheckpointDir(save, 2), "mine.txt"), "x");
  const absl::Status s = CheckReplaceable(save, OutputKind::kCheckpoint);
  EXPECT_TRUE(Contains(s, "step_00000002/mine.txt")) << s;
}

TEST(OutputDirTest, TheDirectoriesASaveKeepsBesideItAreCheckedToo) {
  TempDir tmp;
  const std::string dir = tmp.File("ck");
  UserFiles(StagingDir(dir));  // a user's own "ck.partial"
  const absl::Status s = CheckReplaceable(dir, OutputKind::kCheckpoint);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(Contains(s, StagingDir(dir))) << s;
}

TEST(OutputDirTest, ACheckpointIsNotAnExportAndAnExportNotACheckpoint) {
  TempDir tmp;
  const std::string model = ModelDir(tmp);
  ASSERT_TRUE(Save(tmp.File("ck"), model, 1).ok());
  EXPECT_FALSE(CheckReplaceable(tmp.File("ck"), OutputKind::kHfExport).ok());
  const std::string hf = tmp.File("hf");
  ASSERT_TRUE(MakeDirectories(hf).ok());
  for (const char* name :
       {"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
        "model.safetensors.partial"}) {
    WriteText(JoinPath(hf, name), "x");
  }
  EXPECT_TRUE(CheckReplaceable(hf, OutputKind::kHfExport).ok())
      << CheckReplaceable(hf, OutputKind::kHfExport);
  EXPECT_FALSE(CheckReplaceable(hf, OutputKind::kCheckpoint).ok());
}

// The probe of the issue: `--save-dir /tmp/p` over notes.txt and sub/ deleted both.
TEST(OutputDirTest, ASaveIntoADirectoryOfOtherFilesRemovesNothing) {
  TempDir tmp;
  const std::string model = ModelDir(tmp), dir = tmp.File("p");
  UserFiles(dir);
  const absl::Status s = Save(dir, model, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  ExpectUserFilesIntact(dir);
  EXPECT_FALSE(IsDirectory(StagingDir(dir)));
}

// Files that appear after the staging was prepared (a user copying into the directory
// during a long save) stop the swap too.
TEST(OutputDirTest, PublishRefusesADirectoryThatGainedOtherFilesDuringTheSave) {
  TempDir tmp;
  const std::string model = ModelDir(tmp), dir = tmp.File("ck");
  ASSERT_TRUE(Save(dir, model, 1).ok());
  ASSERT_TRUE(PrepareStaging(dir).ok());
  WriteText(RankStateFile(StagingDir(dir), 0, 1), "rank state");
  ASSERT_TRUE(WriteMeta(StagingDir(dir), MetaAt(2), model).ok());
  WriteText(JoinPath(dir, "notes.txt"), "important");
  EXPECT_EQ(Publish(dir).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFileToString(JoinPath(dir, "notes.txt")), "important");
  EXPECT_EQ(ReadMeta(dir)->step, 1);
}

TEST(OutputDirTest, PruningLeavesAStepDirectoryOfTheUsersOwn) {
  TempDir tmp;
  const std::string model = ModelDir(tmp), save = tmp.File("save");
  const std::string users = PeriodicCheckpointDir(save, 1);
  UserFiles(users);
  ASSERT_TRUE(Save(PeriodicCheckpointDir(save, 2), model, 2).ok());
  ASSERT_TRUE(Save(PeriodicCheckpointDir(save, 3), model, 3).ok());
  ASSERT_TRUE(KeepNewestCheckpoints(save, 1).ok());
  ExpectUserFilesIntact(users);
  EXPECT_FALSE(IsDirectory(PeriodicCheckpointDir(save, 2)));
  EXPECT_TRUE(IsDirectory(PeriodicCheckpointDir(save, 3)));
}

TEST(OutputDirTest, TheNewestCheckpointOfASaveDirectoryIsTheLatestStep) {
  TempDir tmp;
  const std::string model = ModelDir(tmp), save = tmp.File("save");
  EXPECT_EQ(NewestCheckpoint(save), std::nullopt);
  ASSERT_TRUE(Save(PeriodicCheckpointDir(save, 20), model, 20).ok());
  ASSERT_TRUE(Save(PeriodicCheckpointDir(save, 40), model, 40).ok());
  // One still being written (no metadata) does not count.
  ASSERT_TRUE(MakeDirectories(PeriodicCheckpointDir(save, 60)).ok());
  EXPECT_EQ(NewestCheckpoint(save), PeriodicCheckpointDir(save, 40));
  // A final save at a later step: the directory itself.
  ASSERT_TRUE(Save(save, model, 50).ok());
  EXPECT_EQ(NewestCheckpoint(save), save);
  // A checkpoint names itself.
  EXPECT_EQ(NewestCheckpoint(PeriodicCheckpointDir(save, 20)), PeriodicCheckpointDir(save, 20));
}

}  // namespace
}  // namespace zerod::checkpoint
