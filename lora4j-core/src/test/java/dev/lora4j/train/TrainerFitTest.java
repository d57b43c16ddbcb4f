package dev.lora4j.train;

import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Trainer.fit over loaded objects: listener calls at their cadence, an exact continuation from a TrainState, bad data refused. */
class TrainerFitTest {
    private static final TrainConfig CONFIG = TrainConfig.builder().steps(12).lr(5e-3).batchSize(2).seqLen(16).evalEvery(5).saveEvery(4)
            .optimizer(OptimizerConfig.builder().lr(5e-3).weightDecay(0.01).build()).schedule(new ScheduleConfig(Schedule.COSINE, 3)).build();

    private static TokenDataset data(int vocab) {
        return TokenDataset.readJsonl(TestPaths.repo("examples/stories260k-ids.jsonl"), vocab);
    }

    private static LoraModel lora(Transformer base) {
        return LoraModel.inject(base, LoraConfig.builder().r(4).alpha(8).dropout(0.1).build(), 7);
    }

    private static float[] weights(Trainable t) {
        List<float[]> all = t.parameters().stream().map(p -> p.value().clone()).toList();
        float[] flat = new float[all.stream().mapToInt(a -> a.length).sum()];
        int at = 0;
        for (float[] a : all) {
            System.arraycopy(a, 0, flat, at, a.length);
            at += a.length;
        }
        return flat;
    }

    @Test
    void theListenerHearsEveryStepEvaluationAndCheckpointAndTheLossFalls() {
        try (Transformer base = Transformer.load(TestPaths.stories260k())) {
            TokenDataset d = data(base.config().vocabSize());
            Trainable t = Trainable.lora(lora(base));
            List<Long> steps = new ArrayList<>(), evals = new ArrayList<>(), checkpoints = new ArrayList<>();
            double before = Evaluator.evaluate(t.model(), d.examples(), 16, 2).loss();
            Trainer.Result r = Trainer.fit(t, d, d, CONFIG, new TrainListener() {
                public void onStep(Step s) {
                    assertThat(s.totalSteps()).isEqualTo(12);
                    steps.add(s.step());
                }

                public void onEval(long step, Evaluator.Result e) {
                    evals.add(step);
                }

                public void onCheckpoint(TrainState s) {
                    checkpoints.add(s.step());
                    assertThat(s.optimizerState()).hasSize(2 * t.parameters().size()); // AdamW: m and v per parameter
                }
            });
            assertThat(steps).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L);
            assertThat(evals).containsExactly(5L, 10L, 12L);
            assertThat(checkpoints).containsExactly(4L, 8L, 12L);
            assertThat(r.stopped()).isFalse();
            assertThat(r.eval()).hasSize(3);
            // left in inference mode: evaluation gives what fit's last evaluation gave
            assertThat(Evaluator.evaluate(t.model(), d.examples(), 16, 2).loss()).isEqualTo(r.eval().getLast().loss()).isLessThan(before);
        }
    }

    @Test
    void aRunStoppedAndContinuedFromItsStateEndsBitIdenticalToOneNeverStopped() {
        float[] straight, continued;
        List<TrainListener.Point> straightCurve;
        try (Transformer base = Transformer.load(TestPaths.stories260k())) {
            Trainable t = Trainable.lora(lora(base));
            straightCurve = Trainer.fit(t, data(base.config().vocabSize()), null, CONFIG, TrainListener.NONE).train();
            straight = weights(t);
        }
        try (Transformer base = Transformer.load(TestPaths.stories260k())) {
            LoraModel lm = lora(base);
            Trainable t = Trainable.lora(lm);
            TrainState[] saved = new TrainState[1];
            float[][] savedWeights = new float[1][];
            Trainer.Result first = Trainer.fit(t, data(base.config().vocabSize()), null, CONFIG, new TrainListener() {
                int polls;

                public boolean stopRequested() {
                    return ++polls > 7;
                }

                public void onCheckpoint(TrainState s) {
                    saved[0] = new TrainState(s.step(), s.optimizerState().stream().map(float[]::clone).toList(), s.optimizerSteps());
                    savedWeights[0] = weights(t);
                }
            });
            assertThat(first.stopped()).isTrue();
            assertThat(saved[0].step()).isEqualTo(7);
            // a fresh model given the saved weights and state continues exactly
            Trainable again = Trainable.lora(lora(base));
            int at = 0;
            for (Parameter p : again.parameters()) {
                System.arraycopy(savedWeights[0], at, p.value(), 0, p.value().length);
                at += p.value().length;
            }
            Trainer.Result rest = Trainer.fit(again, data(base.config().vocabSize()), null, CONFIG, TrainListener.NONE, saved[0]);
            assertThat(rest.steps()).isEqualTo(12);
            assertThat(rest.train().getFirst().step()).isEqualTo(8);
            assertThat(rest.train().getLast().loss()).isEqualTo(straightCurve.getLast().loss());
            continued = weights(again);
        }
        assertThat(continued).isEqualTo(straight);
    }

    @Test
    void dataWithNothingToLearnIsRefused() {
        try (Transformer base = Transformer.load(TestPaths.stories260k())) {
            TokenDataset oneToken = new TokenDataset(null, List.of(new int[] {5}, new int[] {7}), null, java.util.Arrays.asList(null, null), 0);
            assertThatThrownBy(() -> Trainer.fit(Trainable.lora(lora(base)), oneToken, null, CONFIG, TrainListener.NONE))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("nothing to train on");
        }
    }

    @Test
    void configurationsRefuseNumbersOutsideTheirDomainNamingThem() {
        assertThatThrownBy(() -> TrainConfig.builder().batchSize(0).build()).hasMessageContaining("--batch-size");
        assertThatThrownBy(() -> OptimizerConfig.builder().lr(Double.NaN).build()).hasMessageContaining("--lr");
        assertThatThrownBy(() -> OptimizerConfig.builder().betas(0.9, 1).build()).hasMessageContaining("beta2");
        assertThatThrownBy(() -> new ScheduleConfig(Schedule.LINEAR, -1)).hasMessageContaining("--warmup-steps");
        assertThatThrownBy(() -> LoraConfig.builder().r(0).build()).hasMessageContaining("--r");
        assertThatThrownBy(() -> LoraConfig.builder().layers(List.of(-2)).build()).hasMessageContaining("--layers");
        assertThat(LoraConfig.builder().build().alpha()).isEqualTo(8); // PEFT's default lora_alpha
    }
}
