// The flash attention kernels (flash.cuh) for float elements: every head-dim bucket, the Attend
// and Entropy kinds, CUDA-core tile math (float32 must match a float32 reference, so no TF32).
// One file per element type so the instantiations compile in parallel.
#include "flash.cuh"

namespace da::cuda::attn {

template void launch_flash_typed<float>(const AttnParams&, FlashKind, bool);

}  // namespace da::cuda::attn
