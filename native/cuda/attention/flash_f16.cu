// The flash attention kernels (flash.cuh) for __half elements: every head-dim bucket, the Attend
// and Entropy kinds, tensor-core (sm_80+) and CUDA-core (sm_75) tile math.
// One file per element type so the instantiations compile in parallel.
#include "flash.cuh"

namespace da::cuda::attn {

template void launch_flash_typed<__half>(const AttnParams&, FlashKind, bool);

}  // namespace da::cuda::attn
