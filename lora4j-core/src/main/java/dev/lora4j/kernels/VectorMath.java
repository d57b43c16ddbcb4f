package dev.lora4j.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp, tanh and sums over vector lanes built only from IEEE-exact operations (add, mul, fma,
 * conversions), so they give the same bits in the interpreter and in every JIT tier. The Vector
 * API's own lanewise EXP/TANH and reduceLanes(ADD) do not (the interpreter and the SVML-backed
 * compiled code round differently, and lane sums have no fixed order), which would make training
 * depend on when the JIT kicks in. Accuracy: exp within 2 ulp, tanh within 2e-7 absolute.
 */
final class VectorMath {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    private static final float LOG2E = 1.44269504088896341f, LN2_HI = 0.693145751953125f, LN2_LO = 1.42860682030941723212e-6f;
    private static final float ROUND = 12582912f; // 1.5·2²³: adding and subtracting it rounds to an integer
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);

    private VectorMath() {}

    /** e^x per lane, within 2 ulp; 0 below −87.3, +∞ above 88.7. */
    static FloatVector exp(FloatVector x) {
        // Clamped with blends, and 2^k built from t's bits (t's low mantissa bits hold k + 2²²), not
        // with Java's max/min and float-to-int, whose NaN and −0.0 rules cost several instructions each.
        VectorMask<Float> under = x.compare(VectorOperators.LT, -87.3f), over = x.compare(VectorOperators.GT, 88.7f);
        FloatVector xc = x.blend(-87.3f, under).blend(88.7f, over);
        FloatVector t = xc.mul(LOG2E).add(ROUND);
        FloatVector kf = t.sub(ROUND);
        FloatVector r = kf.fma(FloatVector.broadcast(S, -LN2_HI), xc);
        r = kf.fma(FloatVector.broadcast(S, -LN2_LO), r);
        // e^r on [−ln2/2, ln2/2]: Taylor to degree 7 (truncation below 1e-8 relative)
        FloatVector p = FloatVector.broadcast(S, 1f / 5040f);
        p = p.fma(r, FloatVector.broadcast(S, 1f / 720f));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 120f));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 24f));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 6f));
        p = p.fma(r, FloatVector.broadcast(S, 0.5f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        // 2^k in two halves: k reaches 128 just below 88.7, where 2^k alone is not a float. Each
        // factor is exact, so the result is p·2^k rounded once, as with one factor.
        // 2^k per lane is (k + 127) << 23 read as a float, for k in [−126, 127]; written out here rather than in a
        // helper, which C2 stopped inlining once exp had been inlined into a large kernel (boxing every vector).
        IntVector k = ((IntVector) t.reinterpretAsInts()).sub(ROUND_BITS);
        IntVector kHi = k.lanewise(VectorOperators.ASHR, 1), kLo = k.sub(kHi);
        FloatVector twoLo = kLo.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector twoHi = kHi.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector result = p.mul(twoLo).mul(twoHi);
        return result.blend(0f, under).blend(Float.POSITIVE_INFINITY, over);
    }

    /** tanh per lane, as sign(u)·(1 − 2/(e^{2|u|} + 1)). */
    static FloatVector tanh(FloatVector u) {
        FloatVector a = u.abs();
        a = a.blend(10f, a.compare(VectorOperators.GT, 10f)); // min(|u|, 10), NaN kept, without Java's min rules
        FloatVector e = exp(a.mul(2f));
        FloatVector t = FloatVector.broadcast(S, 1f).sub(FloatVector.broadcast(S, 2f).div(e.add(1f)));
        return t.blend(t.neg(), u.compare(VectorOperators.LT, 0f));
    }

    /** σ(x) = 1/(1 + e^−x). */
    static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(S, 1f).div(exp(x.neg()).add(1f));
    }

    /**
     * The sum of the lanes as a tree, the order every decode kernel finishes its dot products in
     * ({@link LaneSums}): lane l + L/2 added to lane l, then l + L/4, ..., then lane 1 to lane 0, and
     * 0 + that (so an all −0 vector sums to +0, as a scalar loop from 0 does). A tree rather than lane
     * order because sixteen outputs then fold together in 30 selects (a 16×16 transpose took 64).
     */
    static float sum(FloatVector v) {
        if (L >= 16) v = v.add(v.slice(8));
        if (L >= 8) v = v.add(v.slice(4));
        if (L >= 4) v = v.add(v.slice(2));
        v = v.add(v.slice(1));
        return 0f + v.lane(0);
    }
}
