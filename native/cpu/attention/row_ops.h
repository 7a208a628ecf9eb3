// The sort-based exact alpha-entmax, the fallback of the vectorised solver in kernels.inl
// (entmax_row) when its Newton iteration does not settle. Compiled at the baseline ISA.
#pragma once

namespace da::cpu::attn {

// alpha-entmax of the logit row z[0..T) (masked keys are -inf and get 0), alpha 1.5 or 2, with the
// exact threshold of the sort-based closed form (Peters et al. 2019; reference/guidance.md §1).
// Only logits within 2 (alpha 1.5) or 1 (alpha 2) of the row maximum can be in the support, so
// only those are sorted. Writes p[0..T).
void entmax(const float* z, int T, float alpha, float* p);

}  // namespace da::cpu::attn
