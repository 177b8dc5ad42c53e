// The bounded hand-off between the fetch thread (producer) and the backend reading COPY data
// (consumer). Memory is capped by a chunk count; the producer blocks when the queue is full,
// the consumer never blocks: it polls an eventfd that is readable whenever Read has something
// to report (data, the end, an error, or an abort), e.g. with Postgres's WaitLatchOrSocket.
//
// States: open -> closed (clean end) | failed (error) ; any -> aborted (consumer gave up).
// One producer thread and one consumer thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <string>

namespace pgpipe::core {

class ByteQueue {
 public:
  // What a consumer Read found.
  enum class ReadStatus { kData, kWouldBlock, kEnd };

  // Holds at most max_chunks chunks (at least 1); creates the eventfd (throws Error on failure).
  explicit ByteQueue(size_t max_chunks = 16);
  ~ByteQueue();
  ByteQueue(const ByteQueue&) = delete;
  ByteQueue& operator=(const ByteQueue&) = delete;

  // Producer: appends a chunk, blocking while the queue is full (*waited says whether it had
  // to); false if aborted (the chunk is dropped). Empty chunks are ignored.
  bool Push(std::string chunk, bool* waited = nullptr);
  // Producer: number of chunks waiting, to decide whether a partial chunk is worth sending now.
  size_t Size() const;
  // Producer: clean end of data; the consumer gets kEnd once the queue is drained.
  void Close();
  // Producer: ends the stream with an error; the consumer's next Read rethrows it, even if
  // chunks are still queued (they belong to a failed stream).
  void Fail(std::exception_ptr error);

  // Consumer: copies up to max bytes (across chunks) into buf and sets *n; kWouldBlock when
  // nothing is queued yet, kEnd after Close (or Abort); rethrows the producer's error.
  ReadStatus Read(char* buf, size_t max, size_t* n);
  // Consumer: gives up: drops queued chunks, wakes a blocked producer (its Push returns false).
  void Abort();
  // True once Abort was called.
  bool Aborted() const;
  // The eventfd, readable whenever Read would not return kWouldBlock.
  int ReadyFd() const { return event_fd_; }

 private:
  // Makes the eventfd readable exactly when the consumer has something to do (mutex held).
  void UpdateSignalLocked();

  const size_t max_chunks_;
  int event_fd_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable not_full_;
  std::deque<std::string> chunks_;
  size_t front_offset_ = 0;  // bytes of chunks_.front() already read
  bool closed_ = false;
  bool aborted_ = false;
  std::exception_ptr error_;
  bool signaled_ = false;  // the eventfd counter is non-zero
};

}  // namespace pgpipe::core
