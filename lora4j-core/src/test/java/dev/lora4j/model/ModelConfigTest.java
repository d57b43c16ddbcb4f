package dev.lora4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Rotary settings as transformers before 5 writes them (top level, rope_scaling) and as 5 does (rope_parameters). */
class ModelConfigTest {
    static final String LLAMA = """
            {"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "intermediate_size": 64, %s}""";

    static ModelConfig parse(String rope) throws Exception {
        return ModelConfig.parse(Path.of("config.json"), new ObjectMapper().readTree(LLAMA.formatted(rope)));
    }

    static final String LLAMA3 = "\"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192";

    @Test
    void bothPlacesOfRopeThetaAndLlama3Scaling() throws Exception {
        ModelConfig.Rotary old = (ModelConfig.Rotary) parse("\"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": \"llama3\", " + LLAMA3 + "}").positions();
        ModelConfig.Rotary v5 = (ModelConfig.Rotary) parse("\"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, " + LLAMA3 + "}").positions();
        assertThat(v5).isEqualTo(old);
        assertThat(v5.theta()).isEqualTo(500000.0);
        assertThat(v5.scaling()).isEqualTo(new ModelConfig.Llama3Scaling(8.0, 1.0, 4.0, 8192));
        ModelConfig.Rotary plain = (ModelConfig.Rotary) parse("\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0}").positions();
        assertThat(plain.theta()).isEqualTo(1000000.0);
        assertThat(plain.scaling()).isNull();
        assertThat(((ModelConfig.Rotary) parse("\"tie_word_embeddings\": false").positions()).theta()).isEqualTo(10000.0);
    }

    /** Phi-3 128k's LongRoPE: head size 8, so 4 factors each; factor 32768 / 4096 = 8 gives the default attention factor. */
    @Test
    void longRopeAsTransformersReadsIt() throws Exception {
        String factors = "\"short_factor\": [1.0, 1.1, 1.2, 1.3], \"long_factor\": [1.0, 2.0, 4.0, 8.0]";
        ModelConfig.Rotary r = (ModelConfig.Rotary) parse("\"max_position_embeddings\": 32768, \"original_max_position_embeddings\": 4096, "
                + "\"rope_scaling\": {\"type\": \"longrope\", " + factors + "}").positions();
        assertThat(r.longRope().originalMaxPositions()).isEqualTo(4096);
        assertThat(r.longRope().attentionFactor()).isEqualTo(Math.sqrt(1 + Math.log(8) / Math.log(4096)));
        assertThat(r.longRope().longFactor()).containsExactly(1.0, 2.0, 4.0, 8.0);
        Rope rope = new Rope(r, 8);
        assertThat(rope.longFor(4096)).isFalse();
        assertThat(rope.longFor(4097)).isTrue();
        ModelConfig.Rotary given = (ModelConfig.Rotary) parse("\"rope_scaling\": {\"rope_type\": \"longrope\", \"attention_factor\": 1.25, " + factors + "}").positions();
        assertThat(given.longRope().attentionFactor()).isEqualTo(1.25);
        assertThatThrownBy(() -> parse("\"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": [1.0], \"long_factor\": [1.0, 2.0, 4.0, 8.0]}"))
                .isInstanceOf(Lora4jException.class).hasMessageContaining("rope_scaling.short_factor must be an array of 4 numbers");
    }

    @Test
    void unsupportedRopeTypesAreNamed() {
        assertThatThrownBy(() -> parse("\"rope_parameters\": {\"rope_type\": \"yarn\", \"rope_theta\": 10000.0, \"factor\": 4.0}"))
                .isInstanceOf(Lora4jException.class).hasMessageContaining("config.json").hasMessageContaining("'yarn'");
        assertThatThrownBy(() -> parse("\"rope_parameters\": 3"))
                .isInstanceOf(Lora4jException.class).hasMessageContaining("rope_parameters must be an object");
    }
}
