package dev.lora4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The one JSON form of a run's options: written and read back equal, strict about names and types, defaults for what is missing. */
class OptionsJsonTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode json(String s) throws Exception {
        return JSON.readTree(s);
    }

    @Test
    void everyFieldSurvivesARoundTrip() {
        TrainOptions o = TrainOptions.builder(Path.of("m"), Path.of("d.jsonl"), Path.of("o")).initAdapter(Path.of("init"))
                .data(DataConfig.builder(Path.of("d.jsonl")).evalSplit(0.25).pack(true).skipBadLines(true).chatTemplate(Path.of("t.jinja")).appendEos(false).build())
                .lora(LoraConfig.builder().r(16).alpha(32).dropout(0.05).targets(new LoraConfig.TargetRegex(".*q_proj")).layers(List.of(0, 2))
                        .rankPattern(Map.of("v_proj", 4)).alphaPattern(Map.of("v_proj", 2.0)).init(LoraConfig.Init.GAUSSIAN).rslora(true).build())
                .train(TrainConfig.builder().optimizer(OptimizerConfig.builder().kind(OptimizerConfig.Kind.SGD).lr(0.1).momentum(0.9).weightDecay(0.01)
                                .betas(0.8, 0.99).eps(1e-6).build())
                        .schedule(new ScheduleConfig(Schedule.COSINE, 7)).steps(100).epochs(3).batchSize(4).gradAccum(2).seqLen(128)
                        .maxGradNorm(0.5).seed(9).shuffle(false).evalEvery(10).saveEvery(20).logEvery(5).build())
                .build();
        assertThat(OptionsJson.read(OptionsJson.write(o), "test")).isEqualTo(o);
        TrainOptions list = o.toBuilder().lora(o.lora().toBuilder().targets("q_proj,v_proj").build()).build();
        assertThat(OptionsJson.read(OptionsJson.write(list), "test")).isEqualTo(list);
        TrainOptions all = o.toBuilder().lora(o.lora().toBuilder().targets("all-linear").build()).build();
        assertThat(OptionsJson.read(OptionsJson.write(all), "test")).isEqualTo(all);
    }

    @Test
    void aPartialFileTakesTheDefaults() throws Exception {
        TrainOptions o = OptionsJson.read(json("{\"model\": \"m\", \"out\": \"o\", \"data\": {\"train\": \"d\"}, \"train\": {\"optimizer\": {\"lr\": 0.001}}}"), "f");
        assertThat(o).isEqualTo(TrainOptions.builder(Path.of("m"), Path.of("d"), Path.of("o"))
                .train(TrainConfig.builder().lr(0.001).build()).build());
    }

    @Test
    void unknownFieldsAndWrongTypesAreNamed() {
        String base = "{\"model\": \"m\", \"out\": \"o\", \"data\": {\"train\": \"d\"}, ";
        String[][] cases = {
                {"\"train\": {\"lr\": 1}}", "unknown field 'train.lr'"},
                {"\"train\": {\"batch_size\": \"8\"}}", "'train.batch_size' must be a whole number"},
                {"\"train\": {\"batch_size\": 2.5}}", "'train.batch_size' must be a whole number"},
                {"\"train\": {\"batch_size\": 1e12}}", "'train.batch_size' must be a whole number"},
                {"\"train\": {\"optimizer\": {\"kind\": \"adam\"}}}", "'train.optimizer.kind' must be one of [adamw, sgd]"},
                {"\"train\": {\"optimizer\": {\"betas\": [0.9]}}}", "'train.optimizer.betas' must be two numbers"},
                {"\"train\": {\"optimizer\": {\"lr\": -1}}}", "--lr must be a positive finite number"},
                {"\"lora\": {\"r\": 0}}", "r (--r) must be"},
                {"\"lora\": {\"rank_pattern\": {\"q\": 1.5}}}", "'lora.rank_pattern.q' must be a whole number"},
                {"\"lora\": {\"target_modules\": [1]}}", "'lora.target_modules' must be an array of strings"},
                {"\"lora\": []}", "lora must be a JSON object"},
                {"\"full\": \"yes\"}", "'full' must be true or false"},
        };
        for (String[] c : cases)
            assertThatThrownBy(() -> OptionsJson.read(json(base + c[0]), "cfg.json")).as(c[0])
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("cfg.json").hasMessageContaining(c[1]);
        assertThatThrownBy(() -> OptionsJson.read(json("{\"out\": \"o\", \"data\": {\"train\": \"d\"}}"), "f")).hasMessageContaining("--model");
    }
}
