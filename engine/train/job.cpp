// Job: ties the model, the ZeRO engine, the data and the optimizer schedule into steps.
// Every rank runs the same Job in lockstep; the logged loss is the mean over the whole
// global batch (all micro-steps on all ranks): over its (B, T) positions for pre-training
// windows, over its labels for fine-tuning samples (Note [loss over the labels]).
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/checkpoint/checkpoint_dir.h"
#include "engine/checkpoint/output_dir.h"
#include "engine/config/ds_config.h"
#include "engine/data/sampler.h"
#include "engine/monitor/monitor.h"
#include "engine/optim/loss_scaler.h"
#include "engine/optim/step_decision.h"
#include "engine/plan/host_check.h"
#include "engine/train/dataset_files.h"
#include "engine/train/engine_setup.h"
#include "engine/train/finetune_setup.h"
#include "engine/train/finetune_step.h"
#include "engine/train/job_checkpoint.h"
#include "engine/train/job_plan.h"
#include "engine/train/shared_paths.h"
#include "engine/train/step_profile.h"
#include "engine/util/cgroup_memory.h"
#include "engine/util/files.h"
#include "engine/util/proc_stats.h"
#include "engine/util/status_macros.h"
#include "engine/weights/export.h"
#include "engine/zero/status_exception.h"
#include "engine/zero/zero_engine.h"
#include "nlohmann/json.hpp"

namespace zerod {
namespace {

// Everything a job needs, validated; built identically on every rank.
struct Setup {
  config::DsConfig ds;
  models::ModelConfig model;
  std::unique_ptr<data::TokenDataset> dataset;   // pre-training windows, or
  std::unique_ptr<data::FinetuneData> finetune;  // fine-tuning samples
};

// The config parsed for the job's values (`total_steps` fills "auto" total_num_steps).
absl::StatusOr<config::DsConfig> ParseConfig(const JobSpec& spec, config::JobValues job,
                                             int64_t total_steps, int world_size) {
  job.total_steps = total_steps;
  return spec.ds_config_json.empty() ? config::LoadDsConfig(spec.ds_config_path, world_size, job)
                                     : config::ParseDsConfig(spec.ds_config_json, world_size,
                                                             "the inline DeepSpeed config", job);
}

// A fine-tuning job's setup: the samples packed for the config's batch, the steps they make
// (epochs), the config parsed again when those differ from --steps (its "auto" schedule
// length), the Trainer's defaults where the config is silent.
absl::Status SetUpFinetuning(const JobSpec& spec, const comm::Communicator& comm, Setup& s) {
  const int world_size = comm.world_size();
  ASSIGN_OR_RETURN(s.model, models::LoadModelConfig(spec.model_dir));
  RETURN_IF_ERROR(s.model.CheckSequenceLength(spec.seq_len));
  ASSIGN_OR_RETURN(const config::JobValues job,
                   train::JobValuesFor(spec, s.model, comm.device() >= 0, comm.device()));
  ASSIGN_OR_RETURN(s.ds, ParseConfig(spec, job, spec.steps, world_size));
  ASSIGN_OR_RETURN(s.finetune,
                   train::OpenFinetuneData(spec, s.model.vocab_size(), s.ds, world_size));
  const int64_t total = s.finetune->total_steps();
  if (total != spec.steps) {
    ASSIGN_OR_RETURN(s.ds, ParseConfig(spec, job, total, world_size));
  }
  const std::optional<std::string> text =
      spec.ds_config_json.empty() ? ReadFileToString(spec.ds_config_path) : spec.ds_config_json;
  for (std::string& note : train::ApplyTrainerDefaults(text.value_or("{}"), total,
                                                       spec.warmup_steps.value_or(0), &s.ds)) {
    s.ds.notes.push_back(std::move(note));
  }
  return absl::OkStatus();
}

absl::StatusOr<Setup> Validate(const JobSpec& given, const comm::Communicator& comm) {
  Setup s;
  // The spec's own fields, as every entry point checks them (config::ValidateJobSpec); a
  // caller that went around them (a test, a library user) is caught here.
  JobSpec spec = given;
  RETURN_IF_ERROR(config::ValidateJobSpec(&spec));
  const int world_size = comm.world_size();
  if (train::IsFinetuneJob(spec)) {
    RETURN_IF_ERROR(SetUpFinetuning(spec, comm, s));
    if (!spec.tensorboard_dir.empty()) s.ds.tensorboard = {true, spec.tensorboard_dir, ""};
    return s;
  }
  RETURN_IF_ERROR(train::CheckPretrainingSpec(spec));
  ASSIGN_OR_RETURN(train::ModelAndData md, train::LoadModelAndData(spec.model_dir, spec.data_path,
                                                                   spec.data_dtype, spec.seq_len));
  s.model = std::move(md.model);
  s.dataset = std::move(md.dataset);
  // The config's "auto" values come from the job's flags and the model.
  ASSIGN_OR_RETURN(const config::JobValues job,
                   train::JobValuesFor(spec, s.model, comm.device() >= 0, comm.device()));
  ASSIGN_OR_RETURN(s.ds, spec.ds_config_json.empty()
                             ? config::LoadDsConfig(spec.ds_config_path, world_size, job)
                             : config::ParseDsConfig(spec.ds_config_json, world_size,
                                                     "the inline DeepSpeed config", job));
  // --tensorboard DIR: this job's event files go to DIR, with or without the config's
  // tensorboard section (the service gives each job its own DIR/<job id>).
  if (!spec.tensorboard_dir.empty()) s.ds.tensorboard = {true, spec.tensorboard_dir, ""};
  return s;
}

// The placement plan for this job, one for every host (plan/host_check.h): rank 0's GPU and
// host memory (`memory`, given by the caller: the cgroup's limit where there is one) go to
// every rank, every rank plans from them and checks the plan against its own host; an error
// (the same on every rank) when it does not fit on any.
absl::StatusOr<plan::Plan> PlanOnThisRank(const Setup& setup, const JobSpec& spec,
                                          const MachineMemory& memory, comm::Communicator& comm) {
  plan::HostFacts here;
  here.rank = comm.rank();
  here.host = HostName();
  here.ranks_on_host = comm.local_size();
  here.gpu = memory.gpu;
  here.host_source =
      std::getenv("ZEROD_HOST_MEMORY") != nullptr ? "ZEROD_HOST_MEMORY" : ThisHostMemory().source;
  here.gpu_bytes = memory.gpu_bytes;
  here.host_bytes = memory.host_bytes;
  // Rank 0's memory, and the fullest host's rank count, for everyone.
  int64_t shared[3] = {here.gpu_bytes, here.host_bytes, 0};
  RETURN_IF_ERROR(comm.Broadcast(shared, sizeof(shared), 0));
  int64_t fullest = comm.local_size();
  RETURN_IF_ERROR(comm.AllReduce(&fullest, 1, DType::kInt64, comm::ReduceOp::kMax));
  MachineMemory rank0 = memory;
  rank0.gpu_bytes = shared[0];
  rank0.host_bytes = shared[1];
  const plan::JobFacts facts =
      train::FactsFor(spec, rank0, comm.world_size(), static_cast<int>(fullest),
                      comm.SupportsReduce(setup.ds.compute_dtype));
  absl::StatusOr<plan::Plan> planned = train::PlanJob(setup.model, setup.ds, facts);
  if (planned.ok() && !planned->fits) {
    planned = absl::ResourceExhaustedError(
        absl::StrCat(planned->shortfall, " (see `zerod --plan` for the whole plan)"));
  }
  RETURN_IF_ERROR(comm::AgreeOnStatus(comm, planned.status()));
  RETURN_IF_ERROR(comm::AgreeOnStatus(comm, plan::CheckPlanOnHost(*planned, here)));
  return planned;
}

class TrainingJob final : public Job {
 public:
  // `sampler` for pre-training windows; none when `setup` holds fine-tuning samples.
  TrainingJob(const JobSpec& spec, comm::Communicator* comm, Setup setup,
              std::optional<data::DistributedSampler> sampler,
              std::unique_ptr<zero::ZeroEngine> engine, const plan::Plan& plan)
      : spec_(spec),
        comm_(comm),
        ds_(setup.ds),
        model_config_(setup.model),
        dataset_(std::move(setup.dataset)),
        finetune_(std::move(setup.finetune)),
        sampler_(std::move(sampler)),
        engine_(std::move(engine)),
        scaler_(ds_.loss_scaler) {
    // The job's own copy counts the steps the samples make (--epochs): what the periodic
    // saves and the resume check read.
    if (finetune_ != nullptr) spec_.steps = finetune_->total_steps();
    if (const models::DecoderConfig* d = model_config_.decoder();
        d != nullptr && d->moe.output_router_logits) {
      aux_coef_ = d->moe.router_aux_loss_coef;
    }
    // What the plan decided, DeepSpeed's yes/no: any shard or any optimizer state on the CPU.
    for (const plan::UnitPlacement& u : plan.units) {
      info_.offload_param |= u.params == plan::Where::kHost;
      info_.offload_optimizer |= u.optimizer == plan::Where::kHost;
    }
    info_.placement = train::PlacementSummary(plan, engine_->device().is_cuda());
    info_.planned_gpu_bytes = plan.gpu.Total();
    info_.planned_host_bytes = plan.host.Total();
    info_.rank = comm->rank();
    info_.world_size = comm->world_size();
    info_.device = engine_->device().str();
    info_.dtype = std::string(DTypeName(ds_.compute_dtype));
    info_.num_parameters = engine_->num_parameters();
    info_.train_batch_size = ds_.train_batch_size;
    info_.micro_batch_per_gpu = ds_.micro_batch_per_gpu;
    info_.gradient_accumulation_steps = ds_.gradient_accumulation_steps;
    info_.steps_per_print = ds_.steps_per_print;
    info_.total_steps = spec_.steps;
    if (finetune_ != nullptr) info_.data_summary = finetune_->Summary();
  }

  absl::StatusOr<StepMetrics> Step() override {
    if (!failed_.ok()) return failed_;
    const int64_t step = steps_done_ + 1;
    profile_.Begin(step);
    auto result = RunStep();
    profile_.End(step);
    if (result.ok()) {
      train::SavePeriodically(Checkpointed(), Progress(), &*result, best_checkpoint_);
      absl::Status evaluated = MaybeEvaluate(&*result);
      if (!evaluated.ok()) result = evaluated;
    }
    if (result.ok() && monitor_ != nullptr) monitor_->Record(*result);
    if (!result.ok()) {
      failed_ = result.status();
      (void)engine_->ReleaseAll();
    }
    return result;
  }

  int64_t steps_done() const override { return steps_done_; }

  absl::Status ExportHf(const std::string& dir) override {
    std::unique_ptr<checkpoint::HfExportWriter> writer;
    absl::Status begun;
    if (comm_->rank() == 0) begun = config::ValidateExportDir("export", dir, spec_, {});
    if (comm_->rank() == 0 && begun.ok()) {
      writer = std::make_unique<checkpoint::HfExportWriter>(dir, weights::ExportPlan(*engine_));
      begun = writer->Begin(checkpoint::ExportedConfigJson(spec_.model_dir, ds_.compute_dtype));
      if (begun.ok()) begun = writer->AddCompanionFiles(spec_.model_dir);
    }
    RETURN_IF_ERROR(comm::AgreeOnStatus(*comm_, begun));
    return weights::Export(*engine_, writer.get());
  }
  absl::Status SaveCheckpoint(const std::string& dir) override {
    return train::SaveJobCheckpoint(Checkpointed(), Progress(), dir);
  }

  // Continues from a checkpoint that SaveCheckpoint wrote: weights, optimizer state,
  // step, schedule and loss scale, so the steps that follow are the ones an
  // uninterrupted job would have taken.
  absl::Status Resume(const std::string& dir) {
    ASSIGN_OR_RETURN(const train::TrainingProgress progress,
                     train::ResumeJobCheckpoint(Checkpointed(), dir));
    steps_done_ = progress.steps_done;
    lr_iteration_ = progress.lr_iteration;
    scaler_.Restore(progress.scaler);
    return absl::OkStatus();
  }
  // Rank 0 opens the files of the config's "tensorboard" and "csv_monitor" sections
  // (engine/monitor/); the other ranks write none.
  absl::Status OpenMonitor() {
    if (comm_->rank() != 0) return absl::OkStatus();
    ASSIGN_OR_RETURN(monitor_,
                     monitor::Monitor::Open(
                         ds_.tensorboard, ds_.csv_monitor,
                         {ds_.train_batch_size, engine_->num_parameters(),
                          ds_.compute_dtype == DType::kFloat16, engine_->device().is_cuda()}));
    return absl::OkStatus();
  }
  const JobInfo& info() const override { return info_; }
  void set_weights(const std::string& origin) { info_.weights = origin; }
  MemoryStats Memory() const override {
    MemoryStats m = engine_->Memory();
    m.rss_bytes = ResidentSetBytes();
    return m;
  }

 private:
  // After step `metrics->step`: the evaluation set every eval_every steps and after the
  // last, and with save_best a checkpoint when its loss is the lowest yet (a failed save
  // is said in the metrics, as a periodic one's; the job goes on).
  absl::Status MaybeEvaluate(StepMetrics* metrics) {
    if (finetune_ == nullptr || finetune_->eval() == nullptr) return absl::OkStatus();
    const int64_t step = metrics->step;
    const bool due = (spec_.eval_every > 0 && step % spec_.eval_every == 0) || step == spec_.steps;
    if (!due) return absl::OkStatus();
    ASSIGN_OR_RETURN(const train::EvalFigures eval,
                     train::EvaluatePacked(*engine_, *finetune_->eval(), *comm_));
    metrics->eval_loss = eval.loss;
    metrics->eval_perplexity = eval.perplexity;
    metrics->eval_tokens = eval.tokens;
    if (!spec_.save_best || !(eval.loss < best_eval_loss_)) return absl::OkStatus();
    best_eval_loss_ = eval.loss;
    const std::string dir = checkpoint::PeriodicCheckpointDir(spec_.save_dir, step);
    absl::Status saved = metrics->saved_checkpoint == dir
                             ? absl::OkStatus()
                             : train::SaveJobCheckpoint(Checkpointed(), Progress(), dir);
    if (saved.ok()) {
      best_checkpoint_ = dir;
      metrics->saved_checkpoint = dir;
      // The best before it goes unless it is one of the newest keep_checkpoints.
      saved = train::RotateCheckpoints(Checkpointed(), best_checkpoint_);
      if (comm_->rank() == 0) {
        std::fprintf(stderr, "zerod: best evaluation loss %.4f at step %lld: %s\n", eval.loss,
                     static_cast<long long>(step), dir.c_str());
      }
    }
    if (!saved.ok()) metrics->checkpoint_error = std::string(saved.message());
    return absl::OkStatus();
  }

  // What the checkpoint functions (job_checkpoint.h) act on and save.
  train::CheckpointedJob Checkpointed() {
    return {&spec_, ds_.compute_dtype, engine_.get(), comm_};
  }
  train::TrainingProgress Progress() const { return {steps_done_, lr_iteration_, scaler_.state()}; }

  absl::StatusOr<StepMetrics> RunStep() {
    const auto start = std::chrono::steady_clock::now();
    const int64_t gas = ds_.gradient_accumulation_steps;
    const int64_t micro_steps_total = gas * comm_->world_size();
    const double loss_scale = scaler_.scale();
    const int64_t L = spec_.seq_len;
    // Fine-tuning: the labels of the whole global batch, the same on every rank.
    const int64_t labels =
        finetune_ != nullptr ? finetune_->train().StepLabelCount(steps_done_) : 0;
    if (finetune_ != nullptr && labels == 0) return SkipEmptyStep(start);
    // Note [loss over the labels]
    // transformers' causal-LM loss with Trainer's num_items_in_batch: each micro-batch's
    // per-token losses are summed and divided by the label count of the whole step (every
    // micro-batch on every rank), so the step's loss is sum over its labels / their count
    // however the labels fall across micro-batches, ranks and padding. Pre-training windows
    // have B * T labels in every micro-batch, and there the mean of each micro-batch divided
    // by the micro-steps is the same number (bit for bit what this job always computed).
    double loss_sum = 0.0;
    double aux_sum = 0.0;  // the routers' load-balancing loss, unscaled (MoE models)
    bool routed = false;
    double forward_s = 0.0, backward_s = 0.0;
    auto lap = [t = start]() mutable {
      const auto now = std::chrono::steady_clock::now();
      const double d = std::chrono::duration<double>(now - t).count();
      t = now;
      return d;
    };
    // The step's rate is known before its passes: announced with the gradient scale, it
    // lets host updates start during the backward (Note [speculative update]).
    const double lr = optim::LearningRate(ds_.scheduler, lr_iteration_);
    offload::AdamWHyper hyper = ds_.adamw;
    hyper.lr = lr;
    const bool fp16 = ds_.compute_dtype == DType::kFloat16;
    engine_->PrepareStep(
        hyper, 1.0 / loss_scale,
        optim::DecidedBeforeGradients({1.0 / loss_scale, ds_.gradient_clipping, fp16}));
    // The micro-batches' passes through autograd, run inside the boundary of
    // Note [exceptions].
    auto passes = [&] {
      for (int64_t m = 0; m < gas; ++m) {
        // The micro-batch's part of the step's loss, before the division by `divisor`.
        torch::Tensor loss;
        if (finetune_ != nullptr) {
          const train::BatchTensors batch = train::ToTensors(
              finetune_->train().MicroBatch(steps_done_, m, comm_->rank()), L, engine_->device());
          loss = train::MaskedLosses(*engine_, batch).sum();
        } else {
          std::vector<int64_t> tokens = sampler_->MicroBatch(steps_done_, m, comm_->rank());
          // A copy: the pass's graph (the backward, its recomputation) outlives `tokens`,
          // and on the CPU ids and targets would otherwise be views of it.
          torch::Tensor batch =
              torch::from_blob(tokens.data(), {ds_.micro_batch_per_gpu, L + 1}, torch::kInt64)
                  .clone();
          torch::Tensor ids = batch.narrow(1, 0, L);
          torch::Tensor targets = batch.narrow(1, 1, L).to(engine_->device());
          loss = engine_->ForwardLosses(ids, targets).mean();
        }
        // Fine-tuning: the labels' share now, so that the aux loss below keeps its weight
        // of one micro-batch's mean (1 / micro-steps of the step's loss).
        if (finetune_ != nullptr) {
          loss = loss * (static_cast<double>(micro_steps_total) / static_cast<double>(labels));
        }
        // A mixture of experts: transformers' loss + router_aux_loss_coef * aux_loss when
        // the config sets output_router_logits; the aux loss is logged either way.
        if (torch::Tensor aux = engine_->TakeRouterAuxLoss(); aux.defined()) {
          routed = true;
          aux_sum += aux.item<double>();
          if (aux_coef_ > 0.0) loss = loss + aux * aux_coef_;
        }
        loss_sum += loss.item<double>();  // waits for the forward: its time is measured
        forward_s += lap();
        // Note [loss over the labels]: every micro-batch's part is now on the scale of a
        // micro-batch mean; 1 / (grad_accum * world) of each makes the step's loss.
        (loss * (loss_scale / static_cast<double>(micro_steps_total))).backward();
        backward_s += lap();
      }
    };
    absl::Status passed = zero::CatchToStatus(absl::StatusCode::kInternal,
                                              absl::StrCat("step ", steps_done_ + 1), passes);
    if (!passed.ok()) {
      (void)engine_->AbandonStep();  // the state stays the last step's
      return passed;
    }
    // Stopping between the passes and the update gives back what was updated ahead of the
    // decision (where nothing can be, Note [early update], the engine refuses its state).
    auto abandoned = [&](absl::Status s) {
      (void)engine_->AbandonStep();
      return s;
    };
    if (absl::Status s = engine_->ReleaseAll(); !s.ok()) return abandoned(s);
    int64_t unused_experts = 0;
    if (routed) {
      absl::StatusOr<int64_t> unused = engine_->TakeUnusedExperts();
      if (!unused.ok()) return abandoned(unused.status());
      unused_experts = *unused;
    }
    double sums[2] = {loss_sum, aux_sum};
    if (absl::Status s = comm_->AllReduce(sums, 2, DType::kFloat64, comm::ReduceOp::kSum);
        !s.ok()) {
      return abandoned(s);
    }
    const double loss = sums[0] / static_cast<double>(micro_steps_total);
    if (!std::isfinite(loss) && !fp16) {
      return abandoned(
          absl::InternalError(absl::StrCat("loss is ", loss, " at step ", steps_done_ + 1,
                                           "; lower the learning rate or use fp32/bf16")));
    }
    lap();
    absl::StatusOr<zero::StepOutcome> stepped =
        engine_->Step(hyper, 1.0 / loss_scale, ds_.gradient_clipping, fp16);
    if (!stepped.ok()) return abandoned(stepped.status());
    const zero::StepOutcome outcome = *stepped;
    const double step_s = lap();
    if (!fp16 && !std::isfinite(outcome.grad_norm)) {
      // Without fp16's skip, a non-finite gradient has just poisoned the weights.
      return absl::InternalError(absl::StrCat("gradient norm is ", outcome.grad_norm, " at step ",
                                              steps_done_ + 1,
                                              "; lower the learning rate or clip gradients"));
    }
    scaler_.Update(outcome.skipped);
    if (fp16 && scaler_.stuck_at_min()) {
      return absl::InternalError(
          absl::StrCat("fp16 gradients overflow at the minimum loss scale (step ", steps_done_ + 1,
                       "); training cannot progress"));
    }
    if (!outcome.skipped) ++lr_iteration_;
    ++steps_done_;

    StepMetrics metrics;
    metrics.step = steps_done_;
    metrics.loss = loss;
    metrics.label_tokens = labels;
    if (routed) {
      metrics.router_aux_loss = sums[1] / static_cast<double>(micro_steps_total);
      metrics.unused_experts = unused_experts;
    }
    metrics.lr = lr;
    metrics.grad_norm = outcome.grad_norm;
    metrics.loss_scale = loss_scale;
    metrics.skipped = outcome.skipped;
    metrics.step_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics.tokens_per_s =
        static_cast<double>(ds_.train_batch_size * L) / std::max(metrics.step_seconds, 1e-9);
    metrics.gpu_peak_bytes = engine_->Memory().gpu_peak_bytes;
    metrics.forward_seconds = forward_s;
    metrics.backward_seconds = backward_s + outcome.drain_seconds;
    metrics.optimizer_seconds = step_s - outcome.drain_seconds;
    const zero::OptimizerTimes opt = engine_->TakeOptimizerTimes();
    metrics.optimizer_cpu_seconds = opt.cpu_seconds;
    metrics.optimizer_gpu_seconds = opt.gpu_seconds;
    metrics.transfer_wait_seconds = opt.transfer_wait_seconds;
    metrics.optimizer_wait_seconds = opt.forward_wait_seconds;
    metrics.speculated_units = opt.speculated_units;
    metrics.undone_units = opt.undone_units;
    metrics.undo_seconds = opt.undo_seconds;
    metrics.delayed_units = opt.late_units;
    metrics.gradient_wait_seconds = opt.gradient_wait_seconds;
    metrics.host_rss_bytes = ResidentSetBytes();
    metrics.host_peak_rss_bytes = PeakResidentSetBytes();
    return metrics;
  }

  // A fine-tuning step whose global batch has no label (every sample in it context only):
  // nothing to learn, and a loss of 0 / 0. No pass runs, no update, the schedule stays; the
  // step counts (the data moves on) and says so.
  StepMetrics SkipEmptyStep(std::chrono::steady_clock::time_point start) {
    ++steps_done_;
    ++empty_steps_;
    StepMetrics m;
    m.step = steps_done_;
    m.no_labels = true;
    m.skipped = true;
    m.lr = optim::LearningRate(ds_.scheduler, lr_iteration_);
    m.loss_scale = scaler_.scale();
    m.step_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m.host_rss_bytes = ResidentSetBytes();
    m.host_peak_rss_bytes = PeakResidentSetBytes();
    if (comm_->rank() == 0) {
      std::fprintf(stderr,
                   "zerod: warning: step %lld has no label in its global batch: skipped (%lld "
                   "such steps so far)\n",
                   static_cast<long long>(steps_done_), static_cast<long long>(empty_steps_));
    }
    return m;
  }

  // Constant after construction.
  JobSpec spec_;
  comm::Communicator* comm_;
  config::DsConfig ds_;
  models::ModelConfig model_config_;
  // router_aux_loss_coef when the config asks for the load-balancing loss in the training
  // loss (output_router_logits), else 0.
  double aux_coef_ = 0.0;
  std::unique_ptr<data::TokenDataset> dataset_;      // pre-training windows, or
  std::unique_ptr<data::FinetuneData> finetune_;     // fine-tuning samples
  std::optional<data::DistributedSampler> sampler_;  // of dataset_
  JobInfo info_;
  // Training state.
  std::unique_ptr<zero::ZeroEngine> engine_;  // declared after the data it never outlives
  optim::LossScaler scaler_;
  int64_t steps_done_ = 0;
  int64_t lr_iteration_ = 0;
  // ZEROD_PROFILE_STEP's step under the profiler, rank 0 only (step_profile.h).
  train::StepProfile profile_{comm_->rank() == 0 ? train::ProfileRequestFromEnv(
                                                       [](const char* n) { return std::getenv(n); })
                                                 : std::nullopt};
  int64_t empty_steps_ = 0;  // fine-tuning steps without a label (SkipEmptyStep)
  // save_best: the lowest evaluation loss so far and its checkpoint (kept from rotation).
  double best_eval_loss_ = std::numeric_limits<double>::infinity();
  std::string best_checkpoint_;
  absl::Status failed_;  // sticky: once set, every Step returns it
  // Rank 0's TensorBoard / CSV writer, when the config enables one (OpenMonitor).
  std::unique_ptr<monitor::Monitor> monitor_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Job>> Job::Create(const JobSpec& spec, comm::Communicator* comm) {
  const absl::StatusOr<MachineMemory> memory =
      ThisMachineMemory(comm->device() >= 0 ? std::optional<int>(comm->device()) : std::nullopt);
  RETURN_IF_ERROR(comm::AgreeOnStatus(*comm, memory.status()));
  return Create(spec, comm, *memory);
}

absl::StatusOr<std::unique_ptr<Job>> Job::Create(const JobSpec& given, comm::Communicator* comm,
                                                 const MachineMemory& memory) {
  train::ShareCpuThreads(*comm);
  // Before anything is read: a node-local path fails here, naming the host that cannot see
  // rank 0's files.
  RETURN_IF_ERROR(train::CheckSharedPaths(given, *comm));
  // A dataset file (a .jsonl of conversations...) trains on its prepared samples.
  JobSpec spec = given;
  RETURN_IF_ERROR(train::PrepareDatasetFiles(&spec, *comm));
  absl::StatusOr<Setup> setup = Validate(spec, *comm);
  absl::StatusOr<std::optional<data::DistributedSampler>> sampler = std::nullopt;
  if (setup.ok() && setup->dataset != nullptr) {
    const auto& ds = setup->ds;
    sampler = data::DistributedSampler::Create(
        setup->dataset.get(), {spec.seq_len, ds.train_batch_size, ds.micro_batch_per_gpu,
                               ds.gradient_accumulation_steps, comm->world_size(), spec.seed});
  }
  // Every rank must agree before any collective: one rank's missing file fails all.
  RETURN_IF_ERROR(comm::AgreeOnStatus(*comm, setup.ok() ? sampler.status() : setup.status()));
  if (comm->rank() == 0) {
    std::vector<std::string> notes = setup->ds.notes;
    if (std::string dropout = setup->model.DropoutNote(); !dropout.empty())
      notes.push_back(dropout);
    for (const std::string& note : notes) std::fprintf(stderr, "zerod: note: %s\n", note.c_str());
  }
  // Which units recompute in backward comes with the plan's placement (recompute).
  zero::EngineOptions opts = train::EngineOptionsFor(setup->ds, *comm);
  // The plan comes before any allocation: what cannot fit is refused here, by name.
  ASSIGN_OR_RETURN(plan::Plan plan, PlanOnThisRank(*setup, spec, memory, *comm));
  opts.placement = plan.units;
  ASSIGN_OR_RETURN(auto engine, train::CreateEngine(setup->model, opts, *comm));
  // A resumed job takes its weights from the checkpoint (Resume), others from the model
  // directory or transformers' init.
  std::string weights;
  if (spec.resume_from.empty()) {
    ASSIGN_OR_RETURN(weights, train::LoadOrInitWeights(*engine, spec.model_dir, spec.seed,
                                                       setup->model.initializer_range(),
                                                       spec.init == "random", *comm));
  }
  auto job = std::make_unique<TrainingJob>(spec, comm, std::move(setup).value(),
                                           std::move(sampler).value(), std::move(engine), plan);
  if (!spec.resume_from.empty()) {
    RETURN_IF_ERROR(comm::AgreeOnStatus(*comm, job->Resume(spec.resume_from)));
    weights = absl::StrCat("resumed from ", spec.resume_from, " at step ", job->steps_done());
    if (comm->rank() == 0) {
      std::fprintf(stderr, "zerod: resuming from %s at step %lld\n", spec.resume_from.c_str(),
                   static_cast<long long>(job->steps_done()));
    }
    if (job->steps_done() >= job->info().total_steps) {
      return absl::InvalidArgumentError(absl::StrCat(
          "resume_from: ", spec.resume_from, " is at step ", job->steps_done(),
          spec.epochs ? absl::StrCat(" and --epochs makes ", job->info().total_steps, " steps")
                      : absl::StrCat(" and --steps is ", spec.steps),
          ": --steps and --epochs count every step of the job, the ",
          "resumed ones too; give more than ", job->steps_done(), " steps"));
    }
  }
  job->set_weights(weights);
  RETURN_IF_ERROR(comm::AgreeOnStatus(*comm, job->OpenMonitor()));
  return std::unique_ptr<Job>(std::move(job));
}

}  // namespace zerod
