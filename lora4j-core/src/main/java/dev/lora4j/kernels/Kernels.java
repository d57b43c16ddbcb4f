package dev.lora4j.kernels;

import dev.lora4j.quant.QuantizedMatrix;
import dev.lora4j.tensor.Mat;

/**
 * Chooses, once per process, between the Vector API kernels and their scalar twins, and says so once
 * (as Lucene's vectorization provider does): a JVM started without the incubating module runs about ten
 * times slower, and a library user would otherwise never learn why.
 * {@code -Dlora4j.simd=false} switches SIMD off (for comparison, or on a JVM without the module).
 */
public final class Kernels {
    private static final boolean MODULE = simdAvailable(), DISABLED = "false".equals(System.getProperty("lora4j.simd"));
    public static final boolean SIMD = MODULE && !DISABLED;
    private static final Ops OPS = SIMD ? new SimdOps() : new ScalarOps();

    static {
        System.Logger log = System.getLogger("dev.lora4j");
        if (!MODULE)
            log.log(System.Logger.Level.WARNING, "lora4j: the Vector API module is not readable, so the scalar kernels run (about 10x slower);"
                    + " start the JVM with --add-modules jdk.incubator.vector");
        else if (DISABLED) log.log(System.Logger.Level.INFO, "lora4j: SIMD kernels switched off by -Dlora4j.simd=false");
        else log.log(System.Logger.Level.DEBUG, () -> "lora4j: " + describe());
    }

    private Kernels() {}

    private static boolean simdAvailable() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    public static Ops ops() {
        return OPS;
    }

    /** C(a.rows, b.cols) at c[cOff] (row stride ldc) = A·B, or += A·B when accumulate. */
    public static void matmul(Mat a, Mat b, float[] c, int cOff, int ldc, boolean accumulate) {
        if (SIMD) Gemm.matmul(a, b, c, cOff, ldc, accumulate);
        else ScalarGemm.matmul(a, b, c, cOff, ldc, accumulate);
    }

    /** C(a.rows, w.rows) at c[cOff] (row stride ldc) = A·Wᵀ, or += when accumulate: a weight held as heap panels (decoding). */
    public static void matmulTransposed(Mat a, WeightPanels w, float[] c, int cOff, int ldc, boolean accumulate) {
        if (!SIMD) {
            ScalarGemm.matmul(a, w, c, cOff, ldc, accumulate);
            return;
        }
        PanelGemv.multiply(a, w, c, cOff, ldc, accumulate);
    }

    /** C(a.rows, w.rows) at c[cOff] (row stride ldc) = A·Wᵀ, or += when accumulate: a quantized weight (decoding). */
    public static void matmulTransposed(Mat a, QuantizedMatrix w, float[] c, int cOff, int ldc, boolean accumulate) {
        if (SIMD) QuantGemv.multiply(a, w, c, cOff, ldc, accumulate);
        else ScalarGemm.matmul(a, Mat.of(w).t(), c, cOff, ldc, accumulate);
    }

    /** Describes the choice, for logs and --help: which path runs and how to change it. */
    public static String describe() {
        return SIMD ? "SIMD (Vector API, " + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit)"
                : "scalar (run with --add-modules jdk.incubator.vector and without -Dlora4j.simd=false for SIMD)";
    }
}
