// A file mapped read-only into memory, for safetensors weights. The TypeScript side parses and
// validates the header (ts/weights/safetensors.ts); this side trusts nothing it is handed: every
// tensor is cut out of the mapping only after its byte range, dtype size and element count have
// been checked against the real file size (a corrupt or hostile file must never cause an
// out-of-bounds read).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/tensor.h"

namespace da {

class MappedFile {
 public:
  // Maps `path` read-only. Throws E_MODEL_FORMAT when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  size_t size() const { return size_; }
  const uint8_t* data() const { return data_; }

 private:
  MappedFile(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  const uint8_t* data_;
  size_t size_;
};

// The element types a safetensors file can store that the engine reads.
enum class FileDType { F32, F16, BF16 };

// One tensor of a mapped file: bytes [offset, offset + nbytes) of the file (absolute offsets,
// header included), `shape`, stored as `dtype`.
struct FileTensor {
  uint64_t offset = 0, nbytes = 0;
  FileDType dtype = FileDType::F32;
  std::vector<int64_t> shape;
};

// The tensor converted to `compute` (float32 on the CPU today). When the file already holds
// `compute` and the bytes are suitably aligned, the result borrows the mapping (no copy) and keeps
// the file mapped. Throws E_MODEL_FORMAT for a range outside the file or a size that does not
// match shape x dtype.
Tensor load_tensor(const std::shared_ptr<MappedFile>& file, const FileTensor& t, DType compute);

}  // namespace da
