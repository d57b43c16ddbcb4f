package dev.lora4j.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** The formats' vector loads: bytes widened to fp32 vectors. Loaded only when a decoder runs vectorized. */
final class QuantVectors {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Bytes that widen into one float vector; vector decoding needs at least 8 lanes. */
    static final boolean AVAILABLE = L >= 8;
    private static final VectorSpecies<Byte> BYTES = AVAILABLE ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;
    /** NF4's 16 levels in one vector, where a vector holds 16 floats (table lookups by lane select). */
    static final FloatVector NF4_LEVELS = L == 16 ? FloatVector.fromArray(S, Nf4Matrix.LEVELS, 0) : null;

    private QuantVectors() {}

    /** L int8 values at a byte offset, widened to fp32. */
    static FloatVector bytes(MemorySegment s, long at) {
        return (FloatVector) ByteVector.fromMemorySegment(BYTES, s, at, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, S, 0);
    }

    /** The low (high = false) or high 4-bit halves of L bytes at a byte offset, as fp32 in 0..15. */
    static FloatVector nibbles(MemorySegment s, long at, boolean high) {
        ByteVector v = ByteVector.fromMemorySegment(BYTES, s, at, ByteOrder.LITTLE_ENDIAN);
        v = high ? v.lanewise(VectorOperators.LSHR, 4) : v.and((byte) 0x0f);
        return (FloatVector) v.convertShape(VectorOperators.B2F, S, 0);
    }
}
