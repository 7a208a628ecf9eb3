/**
 * What each model call of a generation does: which guidance branches the batch holds and what every
 * attention layer is asked (AFM gains, GAG/NAG/PAG, T-GATE record/replay, capture). Pure functions
 * of the step index, so the schedule is testable without running a model.
 */
import { AttentionCache } from '../attention/cache.js';
import { DiffusionAttentionError } from '../errors.js';
import type { AttentionLayerInfo, UNetLayerControls } from '../models/unet.js';
import type { LayerSelection, ParsedGenerateOptions } from './options.js';

/** A batch block of `batchSize` rows: the unconditional, conditional or PAG-perturbed branch. */
export type Branch = 'uncond' | 'cond' | 'perturbed';

/** T-GATE's per-call decision for a kind of attention (reference/tgate.md §3). */
export type GateAction = 'compute' | 'record' | 'record-mean' | 'replay';

export interface CallPlan {
  /** The branches of this call's batch, in row order. */
  branches: Branch[];
  /** T-GATE's action on cross-attention (attn2) and self-attention (attn1) layers. */
  cross: GateAction;
  self: GateAction;
  /** The controls by layer name (only layers asked for something). */
  layers: Record<string, UNetLayerControls>;
  /** AFM's progress u = s / (S - 1) and the schedule's weights at it, when AFM runs. */
  afm?: { u: number; wLow: number; wHigh: number };
}

/** The layers of `selection` among those of `kind`; unknown names are `E_INVALID_ARGUMENT`. */
export function selectLayers(all: readonly AttentionLayerInfo[], selection: LayerSelection, kind: 'self' | 'cross', what: string): string[] {
  const ofKind = all.filter((l) => l.kind === kind);
  if (typeof selection === 'string') {
    return ofKind.filter((l) => selection === 'all' || l.block === selection).map((l) => l.name);
  }
  for (const name of selection) {
    const layer = all.find((l) => l.name === name);
    if (!layer) throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `${what}: no attention layer named ${name}`);
    if (layer.kind !== kind) {
      throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `${what}: ${name} is a ${layer.kind}-attention layer; ${what} acts on ${kind}-attention (${kind === 'cross' ? 'attn2' : 'attn1'}) layers`);
    }
  }
  return [...selection];
}

/** AFM's band weights (w_lf, w_hf) at progress u (afm.md §6; ablation schedules of its reference code). */
export function afmWeights(schedule: NonNullable<NonNullable<ParsedGenerateOptions['afm']>['schedule']>, u: number): [number, number] {
  switch (schedule) {
    case 'curve':
      return [1 - u, u];
    case 'constant':
      return [1, 1];
    case 'lf-only':
      return [1, 0];
    case 'hf-only':
      return [0, 1];
  }
}

/**
 * T-GATE's actions at call s (tgate.md §3, V2): `cfg` says whether the batch carries guidance
 * halves to average on the gate call.
 */
export function gateActions(s: number, t: { gateStep: number; warmUp: number; spInterval: number; fiInterval: number }, cfg: boolean): { cross: GateAction; self: GateAction } {
  const mean: GateAction = cfg ? 'record-mean' : 'record';
  if (s < t.gateStep - 1) {
    if (s < t.warmUp) return { cross: 'compute', self: 'compute' };
    if (s === t.warmUp) return { cross: 'compute', self: 'record' };
    return { cross: 'compute', self: s % t.spInterval === 0 ? 'record' : 'replay' };
  }
  if (s === t.gateStep - 1) return { cross: mean, self: mean };
  return { cross: 'replay', self: s % t.fiInterval === 0 ? 'record' : 'replay' };
}

/** The per-generation state the plan needs: resolved layer sets and one T-GATE cache per layer. */
export class GenerationPlan {
  private readonly caches = new Map<string, AttentionCache>();
  private readonly afmLayers: string[];
  private readonly guidanceLayers: string[];
  private readonly captureLayers: string[];

  constructor(
    private readonly layers: readonly AttentionLayerInfo[],
    private readonly o: ParsedGenerateOptions,
    /** Total model calls S. */
    readonly steps: number,
    /** Images per branch. */
    private readonly batch: number,
    /** Whether classifier-free guidance runs (guidanceScale > 1). */
    readonly cfg: boolean,
  ) {
    const g = o.attentionGuidance;
    this.afmLayers = o.afm && (o.afm.strength ?? 0.2) !== 0 ? selectLayers(layers, o.afm.layers ?? 'down', 'cross', 'afm.layers') : [];
    // GAG's default set is PLADIS's: the up and down blocks' cross-attention, mid excluded (guidance.md §2).
    this.guidanceLayers = !g ? []
      : g.kind === 'gag' ? (g.layers ? selectLayers(layers, g.layers, 'cross', 'attentionGuidance.layers')
        : layers.filter((l) => l.kind === 'cross' && l.block !== 'mid').map((l) => l.name))
      : g.kind === 'nag' ? selectLayers(layers, 'all', 'cross', 'nag')
      : selectLayers(layers, g.layers ?? 'mid', 'self', 'attentionGuidance.layers');
    this.captureLayers = o.capture ? selectLayers(layers, o.capture.layers ?? 'all', 'cross', 'capture.layers') : [];
    if (o.tgate) for (const l of layers) this.caches.set(l.name, new AttentionCache());
  }

  /** Whether T-GATE has dropped the extra branches at call s. */
  private afterGate(s: number): boolean {
    return !!this.o.tgate && s >= (this.o.tgate.gateStep ?? 10);
  }

  /** The plan of model call s (0-based). */
  call(s: number): CallPlan {
    const o = this.o;
    const after = this.afterGate(s);
    const pag = o.attentionGuidance?.kind === 'pag' && !after;
    const branches: Branch[] = [...(this.cfg && !after ? ['uncond', 'cond'] as const : ['cond'] as const), ...(pag ? ['perturbed'] as const : [])];
    const t = o.tgate;
    const actions = t
      ? gateActions(s, { gateStep: t.gateStep ?? 10, warmUp: t.warmUp ?? 0, spInterval: t.spInterval ?? 1, fiInterval: t.fiInterval ?? 1 }, this.cfg)
      : { cross: 'compute' as const, self: 'compute' as const };
    const layers: Record<string, UNetLayerControls> = {};
    const at = (name: string) => (layers[name] ??= {});
    const B = this.batch;

    for (const l of this.layers) {
      const action = l.kind === 'cross' ? actions.cross : actions.self;
      if (action === 'compute') continue;
      const handle = this.caches.get(l.name)!;
      // With a PAG branch after the guidance halves, the gate's mean covers the halves only.
      at(l.name).cache = action === 'record-mean' && pag ? { handle, mode: action, rows: 2 * B } : { handle, mode: action };
    }
    const replayed = (name: string) => layers[name]?.cache?.mode === 'replay';

    let afm: CallPlan['afm'];
    if (this.afmLayers.length) {
      const a = o.afm!;
      const u = this.steps > 1 ? s / (this.steps - 1) : 0;
      const [wLow, wHigh] = afmWeights(a.schedule ?? 'curve', u);
      afm = { u, wLow, wHigh };
      const strength = a.strength ?? 0.2;
      const base = { cutoff: a.cutoff ?? 0.25, width: a.width ?? 0.05, preserveDC: a.preserveDC ?? true };
      const gate = a.entropyGate === true ? {} : a.entropyGate || undefined;
      for (const name of this.afmLayers) {
        if (replayed(name)) continue;
        at(name).afm = gate
          ? { ...base, entropyGate: { strength, wLow, wHigh, beta: gate.beta ?? 20, gamma: gate.gamma ?? 4 } }
          : { ...base, gainLow: 1 + strength * wLow, gainHigh: 1 + strength * wHigh };
      }
    }
    const g = o.attentionGuidance;
    for (const name of this.guidanceLayers) {
      if (replayed(name) || !g) continue;
      if (g.kind === 'gag') at(name).guidance = { kind: 'gag', scale: g.scale ?? 5, alpha: g.alpha ?? 1.5, eta: g.eta ?? 15, zeta: g.zeta ?? 0 };
      if (g.kind === 'nag') at(name).guidance = { kind: 'nag', scale: g.scale ?? 5, tau: g.tau ?? 2.5, alpha: g.alpha ?? 0.5 };
      if (g.kind === 'pag' && pag) {
        const p = branches.indexOf('perturbed') * B;
        at(name).guidance = { kind: 'pag', batch: [p, p + B] };
      }
    }
    for (const name of this.captureLayers) {
      if (!replayed(name)) at(name).capture = { topK: o.capture!.topK ?? 8, bins: o.capture!.bins ?? 16 };
    }
    return { branches, cross: actions.cross, self: actions.self, layers, ...(afm ? { afm } : {}) };
  }

  /** Frees every T-GATE cache. */
  dispose(): void {
    for (const c of this.caches.values()) c.clear();
  }
}
