// Bounded producer/consumer queue of byte chunks with an eventfd for readiness (see header).
#include "core/byte_queue.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/error.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

// Creates the non-blocking, close-on-exec eventfd the consumer waits on.
ByteQueue::ByteQueue(size_t max_chunks) : max_chunks_(max_chunks == 0 ? 1 : max_chunks) {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) {
    throw Error(sqlstate::kInternalError,
                std::string("could not create eventfd: ") + std::strerror(errno));
  }
}

// Closes the eventfd; the producer thread must be gone by now.
ByteQueue::~ByteQueue() {
  if (event_fd_ >= 0) close(event_fd_);
}

// Sets or drains the eventfd counter so it mirrors "Read would not return kWouldBlock".
void ByteQueue::UpdateSignalLocked() {
  bool want = !chunks_.empty() || closed_ || aborted_ || error_ != nullptr;
  if (want == signaled_) return;
  if (want) {
    uint64_t one = 1;
    // Cannot block or fail short of a counter overflow, which a 0/1 counter never reaches.
    ssize_t rc = write(event_fd_, &one, sizeof one);
    (void)rc;
  } else {
    uint64_t value = 0;
    ssize_t rc = read(event_fd_, &value, sizeof value);
    (void)rc;
  }
  signaled_ = want;
}

// Waits for room (or an abort), then queues the chunk and signals the consumer.
bool ByteQueue::Push(std::string chunk, bool* waited) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (waited) *waited = !aborted_ && chunks_.size() >= max_chunks_;
  not_full_.wait(lock, [this] { return aborted_ || chunks_.size() < max_chunks_; });
  if (aborted_) return false;
  if (chunk.empty()) return true;
  chunks_.push_back(std::move(chunk));
  UpdateSignalLocked();
  return true;
}

// Queued chunk count.
size_t ByteQueue::Size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return chunks_.size();
}

// Marks the clean end of data.
void ByteQueue::Close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  UpdateSignalLocked();
}

// Records the producer's error for the consumer.
void ByteQueue::Fail(std::exception_ptr error) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!error_) error_ = std::move(error);
  UpdateSignalLocked();
}

// Copies from the front chunks; frees each chunk once read and wakes the producer.
ByteQueue::ReadStatus ByteQueue::Read(char* buf, size_t max, size_t* n) {
  *n = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  if (error_) std::rethrow_exception(error_);
  if (aborted_) return ReadStatus::kEnd;
  size_t freed = 0;
  while (*n < max && !chunks_.empty()) {
    std::string& front = chunks_.front();
    size_t take = std::min(max - *n, front.size() - front_offset_);
    std::memcpy(buf + *n, front.data() + front_offset_, take);
    *n += take;
    front_offset_ += take;
    if (front_offset_ == front.size()) {
      chunks_.pop_front();
      front_offset_ = 0;
      ++freed;
    }
  }
  bool ended = chunks_.empty() && closed_;
  UpdateSignalLocked();
  lock.unlock();
  if (freed > 0) not_full_.notify_one();
  if (*n > 0) return ReadStatus::kData;
  return ended ? ReadStatus::kEnd : ReadStatus::kWouldBlock;
}

// Drops everything and releases a producer blocked in Push.
void ByteQueue::Abort() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    aborted_ = true;
    chunks_.clear();
    front_offset_ = 0;
    UpdateSignalLocked();
  }
  not_full_.notify_all();
}

// Whether the consumer gave up.
bool ByteQueue::Aborted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return aborted_;
}

}  // namespace pgpipe::core
