// The two state machines of pg_pipeline: a run's and a block run's. Every path that moves a run
// or a block (a worker starting and finishing it, a user's cancel, a retry, the launcher's
// recovery after a crash, a re-queue at shutdown) asks NextState for the one legal successor;
// src/pg/run/state.cpp is the only code that writes a status, and it writes only what this file
// allows.
//
// Runs:    queued --claim--> running --succeed--> succeeded
//          queued --cancel/fail--> cancelled/failed      running --fail/cancel--> failed/cancelled
//          running --requeue--> queued   (clean shutdown; a crash with attempts left)
// Blocks:  pending --start--> running --succeed/fail/cancel--> succeeded/failed/cancelled
//          running --retry--> running  (an attempt failed; the next one follows its delay)
//          pending --skip/block/cancel/fail--> skipped/upstream_failed/cancelled/failed
//          * --reset--> pending         (resume: re-run after a re-queue, a crash or a retry;
//                                        never from failed or pending)
// succeeded, failed and cancelled runs are final: a retry is a new run.
#pragma once

#include <optional>
#include <string>

namespace pgpipe::core {

enum class RunState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
enum class RunEvent { kClaim, kSucceed, kFail, kCancel, kRequeue };

enum class BlockState { kPending, kRunning, kSucceeded, kFailed, kSkipped, kUpstreamFailed, kCancelled };
enum class BlockEvent { kStart, kRetry, kSucceed, kFail, kSkip, kBlock, kCancel, kReset };

inline constexpr RunState kAllRunStates[] = {RunState::kQueued, RunState::kRunning,
                                             RunState::kSucceeded, RunState::kFailed,
                                             RunState::kCancelled};
inline constexpr RunEvent kAllRunEvents[] = {RunEvent::kClaim, RunEvent::kSucceed, RunEvent::kFail,
                                             RunEvent::kCancel, RunEvent::kRequeue};
inline constexpr BlockState kAllBlockStates[] = {
    BlockState::kPending, BlockState::kRunning,        BlockState::kSucceeded, BlockState::kFailed,
    BlockState::kSkipped, BlockState::kUpstreamFailed, BlockState::kCancelled};
inline constexpr BlockEvent kAllBlockEvents[] = {
    BlockEvent::kStart, BlockEvent::kRetry, BlockEvent::kSucceed, BlockEvent::kFail,
    BlockEvent::kSkip,  BlockEvent::kBlock, BlockEvent::kCancel,  BlockEvent::kReset};

// The catalog's spelling of a state ("upstream_failed") and back; nullopt for an unknown name.
const char* StateName(RunState state);
const char* StateName(BlockState state);
const char* EventName(RunEvent event);
const char* EventName(BlockEvent event);
std::optional<RunState> ParseRunState(const std::string& name);
std::optional<BlockState> ParseBlockState(const std::string& name);

// True for states nothing moves a run or block out of (but a block's reset on resume).
bool IsFinal(RunState state);
bool IsFinal(BlockState state);

// True for block states that keep the blocks after them from running: failed, upstream_failed
// and cancelled; skipped ones (a false conditional) skip them instead.
bool BlocksDownstream(BlockState state);

// The state `event` moves a run or block from `from` to, or nullopt when it may not happen.
std::optional<RunState> NextState(RunState from, RunEvent event);
std::optional<BlockState> NextState(BlockState from, BlockEvent event);

}  // namespace pgpipe::core
