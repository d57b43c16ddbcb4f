package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.kernels.Ops;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;

import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Causal multi-head self-attention with grouped-query heads, forward and backward.
 *
 * <p>The input projections write side by side into one qkv buffer (B·T, W), W = (H + 2·KV)·D, laid
 * out [q | k | v]: GPT-2 fills it with its one fused {@code c_attn}, the Llama family with three
 * projections. Query head h reads key/value head h / (H/KV). Qwen3 normalises each head of q and k
 * (RMSNorm over D, weights shared by the heads) before the rotation. Rotary embeddings, when present,
 * rotate q and k in place, so qkv holds the rotated values the backward pass needs.
 */
public record Attention(List<Projection> inputs /* write [q | k | v] in order */, Projection output, int heads, int kvHeads,
                        int headDim, Rope rope /* null for learned positions */, int slidingWindow,
                        Norm qNorm /* (D) or null */, Norm kNorm /* (D) or null */, Scores scores) {

    public Attention(List<Projection> inputs, Projection output, int heads, int kvHeads, int headDim, Rope rope, int slidingWindow) {
        this(inputs, output, heads, kvHeads, headDim, rope, slidingWindow, null, null);
    }

    public Attention(List<Projection> inputs, Projection output, int heads, int kvHeads, int headDim, Rope rope, int slidingWindow,
                     Norm qNorm, Norm kNorm) {
        this(inputs, output, heads, kvHeads, headDim, rope, slidingWindow, qNorm, kNorm, Scores.of(headDim, 0f, 0f));
    }

    /**
     * How q·k becomes a score before the softmax: s = scale·q·k (scale 1/√D unless the model names another), then,
     * with a soft cap (Gemma 2), cap·tanh(s/cap), which bounds every score to (−cap, cap).
     */
    public record Scores(float scale, float softcap /* 0 = none */) {
        /** queryScale 0 means 1/√D. */
        public static Scores of(int headDim, float queryScale, float softcap) {
            return new Scores(queryScale != 0f ? queryScale : (float) (1.0 / Math.sqrt(headDim)), softcap);
        }

        /** p[from, to) = score(p) in place, p holding q·k. */
        void apply(float[] p, int from, int to) {
            if (softcap == 0f) {
                for (int j = from; j < to; j++) p[j] *= scale;
                return;
            }
            for (int j = from; j < to; j++) p[j] = softcap * (float) Math.tanh(p[j] * scale / softcap);
        }

        /**
         * dp[from, to) = dL/d(q·k) in place, from dp = dL/d(score) and the scores themselves (capped: z at
         * zOff + j; unused without a cap): scale, times 1 − (z/cap)² (= 1 − tanh²) with a cap.
         */
        void backward(float[] dp, int from, int to, float[] z, int zOff) {
            if (softcap == 0f) {
                for (int j = from; j < to; j++) dp[j] *= scale;
                return;
            }
            for (int j = from; j < to; j++) {
                float t = z[zOff + j] / softcap;
                dp[j] *= scale * (1f - t * t);
            }
        }
    }

    /** The same attention with other projections (norms, rotary and shape kept). */
    public Attention withProjections(List<Projection> newInputs, Projection newOutput) {
        return new Attention(newInputs, newOutput, heads, kvHeads, headDim, rope, slidingWindow, qNorm, kNorm, scores);
    }

    /** The same attention with other head norms (e.g. trainable copies). */
    public Attention withHeadNorms(Norm q, Norm k) {
        return new Attention(inputs, output, heads, kvHeads, headDim, rope, slidingWindow, q, k, scores);
    }

    /** Whether q and k are normalised per head (Qwen3); training then keeps their values before the norm. */
    public boolean normalisesHeads() {
        return qNorm != null;
    }

    /** Rows per block of a causal pass over many rows (training, a prompt); a multiple of 16 (the matmul's strips and the transposes' blocks). */
    private static final int BLOCK = 64;

    public int qkvWidth() {
        return (heads + 2 * kvHeads) * headDim;
    }

    /**
     * x(B·T, C) += Wo·attention(h). Leaves qkv (B·T, W, q and k rotated) and att (B·T, H·D) for the backward pass, and
     * with head norms q and k before their norm in qkPre (B·T, (H + KV)·D; null when not training).
     */
    public void forward(float[] h, int b, int t, int c, float[] qkv, float[] qkPre, float[] att, float[] x) {
        forward(h, b, t, c, qkv, qkPre, att, x, null);
    }

    /** As {@link #forward(float[], int, int, int, float[], float[], float[], float[])}, each sequence's first rows taking prefix's keys and values (prefix tuning), or not (null). */
    public void forward(float[] h, int b, int t, int c, float[] qkv, float[] qkPre, float[] att, float[] x, KvPrefix.Layer prefix) {
        int w = qkvWidth(), bt = b * t;
        Mat hm = Mat.of(h, 0, bt, c);
        int col = 0;
        for (Projection p : inputs) {
            p.forward(hm, qkv, col, w, false);
            col += p.out();
        }
        if (qNorm != null) normaliseHeads(qkv, bt, qkPre);
        if (rope != null) rotate(qkv, b, t, 0, false);
        if (prefix != null) prefix.overwrite(qkv, b, t, w, heads * headDim);
        attend(qkv, b, t, att);
        output.forward(Mat.of(att, 0, bt, heads * headDim), x, 0, c, true);
    }

    /**
     * Backward of {@link #forward}: given dy = dL/dx (B·T, C) and the saved h, qkv and att, writes
     * dh = dL/dh (B·T, C); datt (B·T, H·D) and dqkv (B·T, W) are scratch.
     */
    public void backward(float[] h, int b, int t, int c, float[] qkv, float[] qkPre, float[] att,
                         float[] dy, float[] datt, float[] dqkv, float[] dh) {
        backward(h, b, t, c, qkv, qkPre, att, dy, datt, dqkv, dh, null);
    }

    /** Backward of {@link #forward(float[], int, int, int, float[], float[], float[], float[], KvPrefix.Layer)}: the prefix's keys and values get their gradient. */
    public void backward(float[] h, int b, int t, int c, float[] qkv, float[] qkPre, float[] att,
                         float[] dy, float[] datt, float[] dqkv, float[] dh, KvPrefix.Layer prefix) {
        int w = qkvWidth(), bt = b * t;
        output.backward(Mat.of(att, 0, bt, heads * headDim), Mat.of(dy, 0, bt, c), datt, 0, heads * headDim, false);
        attendBackward(qkv, datt, dqkv, b, t);
        if (prefix != null) prefix.takeGradient(dqkv, b, t, w, heads * headDim);
        if (rope != null) rotate(dqkv, b, t, 0, true);
        if (qNorm != null) normaliseHeadsBackward(dqkv, bt, qkPre);
        Mat hm = Mat.of(h, 0, bt, c);
        int col = 0;
        for (Projection p : inputs) {
            p.backward(hm, Mat.of(dqkv, col, bt, p.out(), w), dh, 0, c, col > 0);
            col += p.out();
        }
    }

    /**
     * q and k of every row, head by head, through their RMSNorm (q heads with qNorm's weights, k heads with kNorm's),
     * in place; the values before, when kept (pre not null), go to pre (rows, (H + KV)·D).
     */
    private void normaliseHeads(float[] qkv, int rows, float[] pre) {
        int w = qkvWidth(), n = heads + kvHeads;
        Ops ops = Kernels.ops();
        Parallel.forRange(rows, 16, (r0, r1) -> {
            float[] x = pre != null ? pre : new float[n * headDim], qGain = qNorm.gain(), kGain = kNorm.gain();
            for (int r = r0; r < r1; r++) {
                int base = pre != null ? r * n * headDim : 0;
                System.arraycopy(qkv, r * w, x, base, n * headDim);
                for (int hd = 0; hd < n; hd++) {
                    Norm norm = hd < heads ? qNorm : kNorm;
                    ops.rmsNorm(qkv, r * w + hd * headDim, x, base + hd * headDim, hd < heads ? qGain : kGain, headDim, ((ModelConfig.RmsNormKind) norm.kind()).eps());
                }
            }
        });
    }

    /**
     * Backward of {@link #normaliseHeads}: dqkv's q and k parts, gradients after the norms, become gradients before them;
     * trainable norms (full fine-tuning) accumulate their weight gradients, rows in order on one thread (deterministic).
     */
    private void normaliseHeadsBackward(float[] dqkv, int rows, float[] pre) {
        int w = qkvWidth(), n = heads + kvHeads;
        Ops ops = Kernels.ops();
        Parallel.forRange(rows, qNorm.weightGrad() == null ? 16 : Integer.MAX_VALUE, (r0, r1) -> {
            float[] g = new float[headDim], scratch = new float[headDim], qGain = qNorm.gain(), kGain = kNorm.gain();
            for (int r = r0; r < r1; r++) {
                for (int hd = 0; hd < n; hd++) {
                    Norm norm = hd < heads ? qNorm : kNorm;
                    float[] gain = hd < heads ? qGain : kGain;
                    int at = r * w + hd * headDim, x = (r * n + hd) * headDim;
                    // the same rstd as the forward pass, recomputed from the kept input
                    float rstd = ops.rmsNorm(scratch, 0, pre, x, gain, headDim, ((ModelConfig.RmsNormKind) norm.kind()).eps());
                    System.arraycopy(dqkv, at, g, 0, headDim);
                    Arrays.fill(dqkv, at, at + headDim, 0f);
                    ops.rmsNormBackward(dqkv, at, g, 0, pre, x, rstd, gain, norm.weightGrad(), headDim);
                }
            }
        });
    }

    /** Rotates q and k of every row, row i of a sequence being at position pos0 + i (or rotates back, for gradients). */
    private void rotate(float[] qkv, int b, int t, int pos0, boolean inverse) {
        rope.ensure(pos0 + t);
        int w = qkvWidth(), half = rope.half();
        float[] cos = rope.cos(pos0 + t), sin = rope.sin(pos0 + t);
        Ops ops = Kernels.ops();
        Parallel.forRange(b * t, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int pos = pos0 + r % t;
                for (int hd = 0; hd < heads + kvHeads; hd++) {
                    if (inverse) ops.ropeBackward(qkv, r * w + hd * headDim, cos, sin, pos * half, half);
                    else ops.rope(qkv, r * w + hd * headDim, cos, sin, pos * half, half);
                }
            }
        });
    }

    /**
     * Incremental forward for generation: n new tokens for each of the batch's sequences, whose keys and
     * values live in cache slots seqs[i] and whose new tokens stand at positions [pos[i], pos[i] + n):
     * their keys and values are appended to the cache, and each attends to everything cached for its
     * sequence so far. Sequences may be at different positions (a ragged batch). x(B·n, C) += Wo·attention(h).
     */
    public void forwardCached(float[] h, int[] seqs, int[] pos, int n, int c, float[] qkv, float[] att, float[] x, KvCache.Layer cache) {
        int[] start = new int[seqs.length + 1];
        for (int i = 0; i <= seqs.length; i++) start[i] = i * n;
        forwardCached(h, seqs, pos, start, c, qkv, att, x, cache);
    }

    /**
     * {@link #forwardCached(float[], int[], int[], int, int, float[], float[], float[], KvCache.Layer)} with
     * a number of new tokens of its own for each sequence: sequence i's rows are [start[i], start[i + 1]).
     * One new token (a decode step) takes the dot-product path, more (a prompt) the blocked matmuls; each
     * sequence's arithmetic is the same as in a pass of its own.
     */
    public void forwardCached(float[] h, int[] seqs, int[] pos, int[] start, int c, float[] qkv, float[] att, float[] x, KvCache.Layer cache) {
        int b = seqs.length, w = qkvWidth(), rows = start[b];
        Mat hm = Mat.of(h, 0, rows, c);
        int col = 0;
        for (Projection p : inputs) {
            p.forward(hm, qkv, col, w, false);
            col += p.out();
        }
        if (qNorm != null) normaliseHeads(qkv, rows, null);
        if (rope != null) rotateAt(qkv, pos, start);
        for (int bi = 0; bi < b; bi++)
            for (int r = start[bi]; r < start[bi + 1]; r++) cache.append(qkv, r, seqs[bi], pos[bi] + r - start[bi], heads * headDim, w);
        int group = heads / kvHeads, ldo = heads * headDim;
        Ops ops = Kernels.ops();
        int[] decoding = IntStream.range(0, b).filter(bi -> start[bi + 1] - start[bi] == 1).toArray();
        int[] prompts = IntStream.range(0, b).filter(bi -> start[bi + 1] - start[bi] > 1).toArray();
        if (decoding.length > 0) { // one new token: a dot product with each cached key, then a weighted sum of values
            // a chunk per head while there are few sequences; a chunk per sequence (all its heads) when there
            // are enough of those to share out, which claims and allocates a sixth as often
            int per = decoding.length >= 4 * Parallel.threads() ? heads : 1;
            Parallel.forChunks(decoding.length * heads / per, chunk -> {
                float[] p = null;
                for (int u = chunk * per; u < (chunk + 1) * per; u++) {
                    int bi = decoding[u / heads], hh = u % heads, total = pos[bi] + 1, from = firstVisible(pos[bi]);
                    if (p == null || p.length < total) p = new float[total];
                    int kv = cache.offset(seqs[bi], hh / group), q = start[bi] * w + hh * headDim, out = start[bi] * ldo + hh * headDim;
                    ops.dotRows(qkv, q, cache.k(), kv + from * headDim, headDim, total - from, headDim, p, from);
                    scores.apply(p, from, total);
                    ops.softmax(p, from, total - from);
                    Arrays.fill(att, out, out + headDim, 0f);
                    ops.axpyRows(p, from, total - from, cache.v(), kv + from * headDim, headDim, att, out, headDim);
                }
            });
        }
        if (prompts.length > 0) {
            Parallel.forRange(prompts.length * heads, 1, (u0, u1) -> { // a prompt: blocks of new rows, each seeing the keys up to its last row
                for (int u = u0; u < u1; u++) {
                    int bi = prompts[u / heads], hh = u % heads, kvh = hh / group, pos0 = pos[bi], n = start[bi + 1] - start[bi];
                    float[] p = new float[Math.min(BLOCK, n) * (pos0 + n)];
                    Mat q = Mat.of(qkv, start[bi] * w + hh * headDim, n, headDim, w);
                    for (int i0 = 0; i0 < n; i0 += BLOCK) {
                        int i1 = Math.min(n, i0 + BLOCK), keys = pos0 + i1;
                        Kernels.matmul(q.rows(i0, i1 - i0), cache.keys(seqs[bi], kvh, keys).t(), p, 0, keys, false);
                        for (int i = i0; i < i1; i++) {
                            int abs = pos0 + i, row = (i - i0) * keys, from = firstVisible(abs);
                            Arrays.fill(p, row, row + from, 0f);
                            scores.apply(p, row + from, row + abs + 1);
                            ops.softmax(p, row + from, abs + 1 - from);
                            Arrays.fill(p, row + abs + 1, row + keys, 0f);
                        }
                        Kernels.matmul(Mat.of(p, 0, i1 - i0, keys), cache.values(seqs[bi], kvh, keys), att, (start[bi] + i0) * ldo + hh * headDim, ldo, false);
                    }
                }
            });
        }
        output.forward(Mat.of(att, 0, rows, heads * headDim), x, 0, c, true);
    }

    /** Rotates q and k of every new row, row r of sequence i (start[i] ≤ r < start[i + 1]) being at position pos[i] + r − start[i]. */
    private void rotateAt(float[] qkv, int[] pos, int[] start) {
        int b = pos.length, most = 0;
        int[] seqOf = new int[start[b]];
        for (int i = 0; i < b; i++) {
            most = Math.max(most, pos[i] + start[i + 1] - start[i]);
            Arrays.fill(seqOf, start[i], start[i + 1], i);
        }
        rope.ensure(most);
        int w = qkvWidth(), half = rope.half();
        Ops ops = Kernels.ops();
        Parallel.forRange(start[b], 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int i = seqOf[r], seqEnd = pos[i] + start[i + 1] - start[i], at = pos[i] + r - start[i];
                // LongRoPE chooses its table by the length this pass covers: per sequence here, so that a sequence in a
                // ragged batch rotates as it would alone (transformers takes the batch's longest)
                float[] cos = rope.cos(seqEnd), sin = rope.sin(seqEnd);
                for (int hd = 0; hd < heads + kvHeads; hd++) ops.rope(qkv, r * w + hd * headDim, cos, sin, at * half, half);
            }
        });
    }

    /**
     * dst(D, n) = m(n, D)ᵀ, row-major: a head's keys (or values) as rows of length n, so every block of
     * scores reads them as plain rows instead of transposing the same keys again for each block.
     */
    private static void transpose(Mat m, float[] dst) {
        float[] a = m.array();
        int n = m.rows(), d = m.cols(), rs = m.rowStride(), off = (int) m.offset();
        for (int i0 = 0; i0 < n; i0 += 16) { // 16 rows at a time: each output run is one cache line
            int i1 = Math.min(n, i0 + 16);
            for (int j = 0; j < d; j++)
                for (int i = i0; i < i1; i++) dst[j * n + i] = a[off + i * rs + j];
        }
    }

    /** First key position row i may attend to (causal, and within the sliding window if any). */
    private int firstVisible(int i) {
        return slidingWindow > 0 ? Math.max(0, i - slidingWindow + 1) : 0;
    }

    private Mat q(float[] qkv, int bi, int t, int hh) {
        return Mat.of(qkv, bi * t * qkvWidth() + hh * headDim, t, headDim, qkvWidth());
    }

    private Mat k(float[] qkv, int bi, int t, int kvh) {
        return Mat.of(qkv, bi * t * qkvWidth() + (heads + kvh) * headDim, t, headDim, qkvWidth());
    }

    private Mat v(float[] qkv, int bi, int t, int kvh) {
        return Mat.of(qkv, bi * t * qkvWidth() + (heads + kvHeads + kvh) * headDim, t, headDim, qkvWidth());
    }

    /**
     * att(B·T, H·D) = softmax(q·kᵀ/√D + mask)·v per (batch, head), a block of query rows at a time:
     * rows [i0, i1) see keys [0, i1) only, so most of the masked upper triangle is never computed.
     */
    private void attend(float[] qkv, int b, int t, float[] att) {
        int group = heads / kvHeads, ldo = heads * headDim;
        Parallel.forRange(b * heads, 1, (u0, u1) -> {
            float[] p = new float[Math.min(BLOCK, t) * t], kT = new float[headDim * t];
            for (int u = u0; u < u1; u++) {
                int bi = u / heads, hh = u % heads, kvh = hh / group;
                transpose(k(qkv, bi, t, kvh), kT);
                for (int i0 = 0; i0 < t; i0 += BLOCK) {
                    int i1 = Math.min(t, i0 + BLOCK);
                    probabilities(qkv, bi, t, hh, kT, i0, i1, p, 0, i1, null);
                    Kernels.matmul(Mat.of(p, 0, i1 - i0, i1, i1), v(qkv, bi, t, kvh).rows(0, i1), att, (bi * t + i0) * ldo + hh * headDim, ldo, false);
                }
            }
        });
    }

    /**
     * Rows [i0, i1) of p = softmax(scores(q·kᵀ) + causal/window mask) for one (batch, query head), over keys
     * [0, i1) (every later key is masked for these rows): row i at p[pOff + (i - i0)·ld], masked entries 0.
     * kT(D, T) holds the head's keys transposed. With z (laid out as p) the scores before the softmax are kept
     * there too (the backward pass of a soft cap needs them).
     */
    private void probabilities(float[] qkv, int bi, int t, int hh, float[] kT, int i0, int i1, float[] p, int pOff, int ld, float[] z) {
        Ops ops = Kernels.ops();
        Kernels.matmul(q(qkv, bi, t, hh).rows(i0, i1 - i0), Mat.of(kT, 0, headDim, i1, t), p, pOff, ld, false);
        for (int i = i0; i < i1; i++) {
            int row = pOff + (i - i0) * ld, from = firstVisible(i);
            Arrays.fill(p, row, row + from, 0f);
            scores.apply(p, row + from, row + i + 1);
            if (z != null) System.arraycopy(p, row + from, z, row + from, i + 1 - from);
            ops.softmax(p, row + from, i + 1 - from);
            Arrays.fill(p, row + i + 1, row + i1, 0f);
        }
    }

    /**
     * dqkv from datt, per (batch, key/value head), so the query heads that share a k/v head add their
     * dK and dV in one thread. P is recomputed (cheaper in memory than keeping B·H·T² floats a layer):
     * dV += Pᵀ·dO; dP = dO·Vᵀ; dS = scores'(softmax'(dP)); dQ = dS·K; dK += dSᵀ·Q.
     *
     * <p>P, dS and dQ go a block of query rows at a time (rows [i0, i1) see keys [0, i1)); dV and dK a
     * block of key rows at a time (keys [j0, j1) are seen by queries [j0, T) only). What is skipped is
     * masked, exact zeros at the start or end of each sum, so the results are the same to the bit as
     * with whole T×T products. Each kind of block is a method of its own: compiled as one lambda, this
     * pass took 55 MB of JIT arena, which showed up in training's peak RSS.
     */
    private void attendBackward(float[] qkv, float[] datt, float[] dqkv, int b, int t) {
        int group = heads / kvHeads, ldo = heads * headDim;
        Parallel.forRange(b * kvHeads, 1, (u0, u1) -> {
            float[] p = new float[t * t], dp = new float[t * t], kT = new float[headDim * t], vT = new float[headDim * t];
            float[] z = scores.softcap() != 0f ? new float[t * t] : null;
            for (int u = u0; u < u1; u++) {
                int bi = u / kvHeads, kvh = u % kvHeads;
                transpose(k(qkv, bi, t, kvh), kT);
                transpose(v(qkv, bi, t, kvh), vT);
                for (int g = 0; g < group; g++) {
                    int hh = kvh * group + g;
                    Mat dO = Mat.of(datt, bi * t * ldo + hh * headDim, t, headDim, ldo);
                    for (int i0 = 0; i0 < t; i0 += BLOCK) queryBlockBackward(qkv, dO, dqkv, bi, t, hh, kT, vT, i0, p, dp, z);
                    for (int j0 = 0; j0 < t; j0 += BLOCK) keyBlockBackward(qkv, dO, dqkv, bi, t, hh, j0, p, dp, g > 0);
                }
            }
        });
    }

    /**
     * Query rows [i0, i0 + BLOCK) of one head: P and dS = scores'(softmax'(dO·Vᵀ)) into rows of p and dp (T×T), and
     * dQ = dS·K; z (T×T, with a soft cap) takes the scores.
     */
    private void queryBlockBackward(float[] qkv, Mat dO, float[] dqkv, int bi, int t, int hh, float[] kT, float[] vT,
                                    int i0, float[] p, float[] dp, float[] z) {
        int i1 = Math.min(t, i0 + BLOCK), n = i1 - i0, w = qkvWidth();
        Ops ops = Kernels.ops();
        probabilities(qkv, bi, t, hh, kT, i0, i1, p, i0 * t, t, z);
        Kernels.matmul(dO.rows(i0, n), Mat.of(vT, 0, headDim, i1, t), dp, i0 * t, t, false);
        for (int i = i0; i < i1; i++) {
            int row = i * t, from = firstVisible(i);
            Arrays.fill(dp, row, row + from, 0f);
            ops.softmaxBackward(dp, row + from, p, row + from, i + 1 - from);
            scores.backward(dp, row + from, row + i + 1, z, 0);
            Arrays.fill(dp, row + i + 1, row + i1, 0f);
        }
        Kernels.matmul(Mat.of(dp, i0 * t, n, i1, t), k(qkv, bi, t, hh / (heads / kvHeads)).rows(0, i1), dqkv, (int) q(dqkv, bi, t, hh).offset() + i0 * w, w, false);
    }

    /** Key rows [j0, j0 + BLOCK) of one head, which queries [j0, T) see: dV (+)= Pᵀ·dO and dK (+)= dSᵀ·Q. */
    private void keyBlockBackward(float[] qkv, Mat dO, float[] dqkv, int bi, int t, int hh, int j0, float[] p, float[] dp, boolean accumulate) {
        int j1 = Math.min(t, j0 + BLOCK), seen = t - j0, w = qkvWidth(), kvh = hh / (heads / kvHeads);
        int dk = (int) k(dqkv, bi, t, kvh).offset(), dv = (int) v(dqkv, bi, t, kvh).offset();
        Kernels.matmul(Mat.of(p, j0 * t + j0, seen, j1 - j0, t).t(), dO.rows(j0, seen), dqkv, dv + j0 * w, w, accumulate);
        Kernels.matmul(Mat.of(dp, j0 * t + j0, seen, j1 - j0, t).t(), q(qkv, bi, t, hh).rows(j0, seen), dqkv, dk + j0 * w, w, accumulate);
    }
}
