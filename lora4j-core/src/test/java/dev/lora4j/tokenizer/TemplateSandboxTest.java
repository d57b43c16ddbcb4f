package dev.lora4j.tokenizer;

import dev.lora4j.Lora4jException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Chat templates are untrusted: the known escapes from Jinjava's sandbox, file and template loading, and
 * templates that would run or grow without bound all end in a clear error naming the template, quickly.
 */
class TemplateSandboxTest {
    private static final List<ChatTemplate.Message> HI = List.of(new ChatTemplate.Message("user", "hi"));

    private static String render(String source) {
        return new ChatTemplate(source, "evil.jinja", "<s>", "</s>").render(HI, true);
    }

    @ParameterizedTest
    @ValueSource(strings = {
            // the interpreter object and what hangs off it (the CVE-2025-59340 / CVE-2026-25526 family)
            "{{ ____int3rpr3t3r____.config }}",
            "{% for x in ____int3rpr3t3r____.config.objectMapper.typeFactory %}{{ x }}{% endfor %}",
            "{% for k, v in ____int3rpr3t3r____.context.items() %}{{ k }}{% endfor %}",
            "{{ ____int3rpr3t3r____.context.getGlobalContext() }}",
            // reflection from the data the template was given
            "{{ 'a'.getClass().forName('java.lang.Runtime') }}",
            "{{ messages.getClass().getClassLoader() }}",
            "{{ messages[0].getClass().getName() }}",
            "{{ 'a'.class.forName('java.lang.Runtime').getRuntime().exec('id') }}",
            "{{ messages.class }}",
            "{% for f in messages.class.declaredFields %}{{ f }}{% endfor %}",
            "{{ bos_token.bytes }}",
            "{{ (1).getClass() }}",
            // other files and templates
            "{% include '/etc/passwd' %}",
            "{% include 'META-INF/MANIFEST.MF' %}",
            "{% import '/etc/passwd' as p %}{{ p }}",
            "{% from '/etc/passwd' import x %}{{ x }}",
            "{% extends '/etc/passwd' %}",
            // work and memory without bound
            "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}{% endfor %}{% endfor %}{% endfor %}",
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
            "{{ 'a' * 2000000000 }}",
            "{{ range(1000000000) | list | length }}",
            "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    })
    void escapesAndRunawaysEndInACleanError(String template) {
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            String out;
            try {
                out = render(template);
            } catch (Lora4jException e) {
                assertThat(e).hasMessageContaining("evil.jinja");
                return;
            }
            // a render that completes may only have produced plain, bounded text without leaking anything
            assertThat(out.length()).isLessThan(64 << 20);
            assertThat(out).doesNotContain("root:").doesNotContain("java.lang").doesNotContain("Interpreter")
                    .doesNotContain("Manifest").doesNotContain("class ");
        });
    }

    @Test
    void readingAnotherFileNeverWorks() {
        assertThatThrownBy(() -> render("{% include '/etc/hostname' %}")).isInstanceOf(Lora4jException.class)
                .hasMessageContaining("evil.jinja");
    }

    @Test
    void theInterpreterIsOutOfReach() {
        assertThatThrownBy(() -> render("{{ ____int3rpr3t3r____.config }}")).isInstanceOf(Lora4jException.class)
                .hasMessageContainingAll("evil.jinja", "may not");
    }

    @Test
    void nestedLoopsStopAtTheStepBudget() {
        assertThatThrownBy(() -> render("{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"))
                .isInstanceOf(Lora4jException.class).hasMessageContainingAll("evil.jinja", "stopped");
    }

    @Test
    void ordinaryTemplateFeaturesStillWork() {
        String t = """
                {%- set ns = namespace(found=false) -%}
                {%- for m in messages -%}{%- if m['role'] == 'user' -%}{%- set ns.found = true -%}{%- endif -%}
                [{{ m.role | upper }}:{{ m['content'].strip() }}:{{ m.content | length }}]{%- endfor -%}
                {%- if ns.found %} found{% endif %}{{ messages | map(attribute='role') | join(',') }}{{ ' x '.strip() }}
                {%- macro greet(n) %}<{{ n }}>{% endmacro %}{{ greet(bos_token) }}{{ range(3) | list | length }}""";
        assertThat(render(t)).isEqualTo("[USER:hi:2] founduserx<<s>>3");
    }
}
