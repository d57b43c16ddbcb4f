package dev.lora4j.generate;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The sampler's token order against the definition it replaces: a stable sort of boxed ids by logit, highest first. */
class SamplerTest {
    @Test
    void tokensSortHighestFirstWithTiesByLowerId() {
        SplittableRandom r = new SplittableRandom(3);
        float[] special = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, -Float.MIN_VALUE, 1f, -1f};
        for (int trial = 0; trial < 20; trial++) {
            int vocab = 1 + r.nextInt(3000);
            float[] l = new float[vocab];
            for (int i = 0; i < vocab; i++)
                l[i] = r.nextInt(4) == 0 ? special[r.nextInt(special.length)] : (float) (r.nextGaussian() * 10);
            Integer[] boxed = new Integer[vocab];
            for (int i = 0; i < vocab; i++) boxed[i] = i;
            Arrays.sort(boxed, (a, b) -> Float.compare(l[b], l[a]));
            assertThat(Sampler.descending(l, vocab)).as("trial %d", trial).containsExactly(Arrays.stream(boxed).mapToInt(Integer::intValue).toArray());
        }
    }

    @Test
    void aSeededDrawIsReproducibleAndGreedyTakesTheLowestIdOfTheMaximum() {
        float[] l = {1f, 3f, 3f, -2f, 0.5f};
        assertThat(new Sampler(0, 0, 1, 1, new SplittableRandom(1)).next(l, 0, l.length, new int[0], 0)).isEqualTo(1);
        int a = new Sampler(1.0, 3, 0.9, 1, new SplittableRandom(7)).next(l, 0, l.length, new int[0], 0);
        int b = new Sampler(1.0, 3, 0.9, 1, new SplittableRandom(7)).next(l, 0, l.length, new int[0], 0);
        assertThat(a).isEqualTo(b).isIn(0, 1, 2);
    }
}
