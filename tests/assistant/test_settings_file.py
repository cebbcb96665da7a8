"""The TOML settings file, the app's data folder and upload settings, and the corpus folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from assistant.settings import Settings
from corpus.errors import PlanQAError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "planqa.toml",
        'backend = "extractive"\n'
        "ctx = 2048\n"
        "timeout = 12.5\n"
        "context_chars = 900\n"
        'context_mode = "passages"\n'
        "chunk_size = 300\n"
        'data_dir = "data"\n'
        'index_dir = "/srv/planqa/index"\n'
        'admin_password = "s3cret"\n'
        "upload_max_mb = 5\n",
    )


class TestSettingsFile:
    def test_values_come_from_the_file(self, config, tmp_path):
        s = Settings.from_env({}, config_path=config)
        assert s.answer.backend == "extractive"
        assert s.answer.n_ctx == 2048 and s.answer.timeout_s == 12.5
        assert s.chain.context_chars == 900 and s.chunker.max_chars == 300
        assert s.chain.context_mode == "passages"
        # A relative folder is relative to the file, not to the working directory.
        assert s.data_dir == tmp_path / "data"
        assert s.uploads_dir == tmp_path / "data" / "reports"
        assert s.index_dir == Path("/srv/planqa/index")
        assert s.admin_password == "s3cret" and s.upload_max_mb == 5

    def test_environment_overrides_the_file(self, config):
        env = {"PLANQA_CONFIG": str(config), "PLANQA_UPLOAD_MAX_MB": "7", "PLANQA_CTX": ""}
        s = Settings.from_env(env)
        assert s.upload_max_mb == 7
        assert s.answer.n_ctx == 2048  # an empty variable does not wipe the file's value
        assert s.admin_password == "s3cret"

    def test_explicit_env_does_not_look_for_files(self, tmp_path, monkeypatch):
        _write(tmp_path / "planqa.toml", 'admin_password = "from-cwd"\n')
        monkeypatch.chdir(tmp_path)
        assert Settings.from_env({}).admin_password == ""

    def test_real_environment_finds_planqa_toml_then_user_config(self, tmp_path, monkeypatch):
        for key in [k for k in os.environ if k.startswith("PLANQA_")]:
            monkeypatch.delenv(key)
        home_config = tmp_path / "xdg" / "planqa" / "config.toml"
        home_config.parent.mkdir(parents=True)
        _write(home_config, 'admin_password = "from-user-config"\n')
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        work = tmp_path / "work"
        work.mkdir()
        monkeypatch.chdir(work)
        assert Settings.from_env().admin_password == "from-user-config"
        _write(work / "planqa.toml", 'admin_password = "from-cwd"\n')
        assert Settings.from_env().admin_password == "from-cwd"
        monkeypatch.setenv("PLANQA_ADMIN_PASSWORD", "from-env")
        assert Settings.from_env().admin_password == "from-env"

    def test_bad_toml_names_the_file(self, tmp_path):
        bad = _write(tmp_path / "broken.toml", "backend = extractive\n")  # unquoted string
        with pytest.raises(PlanQAError, match="broken.toml.*not valid TOML"):
            Settings.from_env({}, config_path=bad)

    def test_unknown_key_names_the_file_and_the_key(self, tmp_path):
        bad = _write(tmp_path / "planqa.toml", 'backend = "extractive"\nchunksize = 300\n')
        with pytest.raises(PlanQAError, match=r"planqa.toml.*'chunksize'") as info:
            Settings.from_env({}, config_path=bad)
        assert "chunk_size" in str(info.value)  # the known names are listed

    def test_wrong_type_names_the_key(self, tmp_path):
        bad = _write(tmp_path / "planqa.toml", 'ctx = "big"\n')
        with pytest.raises(PlanQAError, match="'ctx' must be a whole number"):
            Settings.from_env({}, config_path=bad)

    def test_missing_file_from_planqa_config(self, tmp_path):
        with pytest.raises(PlanQAError, match="does not exist"):
            Settings.from_env({"PLANQA_CONFIG": str(tmp_path / "nope.toml")})


class TestAppSettings:
    def test_defaults(self, tmp_path):
        s = Settings.from_env({"XDG_DATA_HOME": str(tmp_path)})
        assert s.data_dir == tmp_path / "planqa"
        assert s.admin_password == "" and s.upload_max_mb == 20
        assert Settings.from_env({}).data_dir == Path.home() / ".local" / "share" / "planqa"

    def test_from_environment(self, tmp_path):
        s = Settings.from_env(
            {
                "PLANQA_DATA_DIR": str(tmp_path / "d"),
                "PLANQA_ADMIN_PASSWORD": "pw",
                "PLANQA_UPLOAD_MAX_MB": "3",
            }
        )
        assert s.uploads_dir == tmp_path / "d" / "reports"
        assert s.admin_password == "pw" and s.upload_max_mb == 3
        assert "pw" not in repr(s)

    @pytest.mark.parametrize("value", ["lots", "0", "-2"])
    def test_bad_upload_limit(self, value):
        with pytest.raises(PlanQAError, match="PLANQA_UPLOAD_MAX_MB"):
            Settings.from_env({"PLANQA_UPLOAD_MAX_MB": value})

    def test_corpus_dirs_add_the_uploads_folder_once_it_exists(self, tmp_path):
        s = Settings.from_env(
            {"PLANQA_CORPUS_DIR": str(tmp_path / "c"), "PLANQA_DATA_DIR": str(tmp_path / "d")}
        )
        assert s.corpus_dirs == (tmp_path / "c",)
        s.uploads_dir.mkdir(parents=True)
        assert s.corpus_dirs == (tmp_path / "c", tmp_path / "d" / "reports")
        # A corpus folder given as a flag (`--corpus`) is exactly that folder.
        assert s.with_overrides(corpus_dir=tmp_path / "x").corpus_dirs == (tmp_path / "x",)

    def test_hidden_files(self, tmp_path):
        s = Settings.from_env({"PLANQA_DATA_DIR": str(tmp_path)})
        assert s.hidden_files == frozenset()
        (tmp_path / "hidden.json").write_text(json.dumps(["a.txt"]), encoding="utf-8")
        assert s.hidden_files == {"a.txt"}
        (tmp_path / "hidden.json").write_text("[a.txt", encoding="utf-8")
        with pytest.raises(PlanQAError, match="hidden.json"):
            _ = s.hidden_files


def test_unknown_context_mode_is_a_plain_error():
    with pytest.raises(PlanQAError, match="PLANQA_CONTEXT_MODE must be sentences or passages"):
        Settings.from_env({"PLANQA_CONTEXT_MODE": "paragraphs"})
    assert Settings.from_env({"PLANQA_CONTEXT_MODE": " Passages "}).chain.context_mode == "passages"
    assert Settings.from_env({}).chain.context_mode == "sentences"


def test_context_min_ratio_from_the_environment_and_a_file(tmp_path):
    assert Settings.from_env({}).chain.context_min_ratio == 0.4
    assert Settings.from_env({"PLANQA_CONTEXT_MIN_RATIO": "0"}).chain.context_min_ratio == 0.0
    for bad in ("1.5", "-0.1"):
        with pytest.raises(PlanQAError, match="PLANQA_CONTEXT_MIN_RATIO must be between 0 and 1"):
            Settings.from_env({"PLANQA_CONTEXT_MIN_RATIO": bad})
    with pytest.raises(PlanQAError, match="PLANQA_CONTEXT_MIN_RATIO must be a number"):
        Settings.from_env({"PLANQA_CONTEXT_MIN_RATIO": "a lot"})
    config = tmp_path / "planqa.toml"
    config.write_text("context_min_ratio = 0.25\n", encoding="utf-8")
    assert Settings.from_env({"PLANQA_CONFIG": str(config)}).chain.context_min_ratio == 0.25


def test_the_chains_extra_model_turns_can_be_switched_off(tmp_path):
    on = Settings.from_env({}).chain
    assert (on.rewrite_with_model, on.look_again, on.answer_anyway, on.complete_comparisons) == (
        True, True, True, True
    )
    off = Settings.from_env(
        {"PLANQA_LOOK_AGAIN": "0", "PLANQA_ANSWER_ANYWAY": " False ", "PLANQA_COMPLETE_COMPARISONS": "off"}
    ).chain
    assert (off.look_again, off.answer_anyway, off.complete_comparisons) == (False, False, False)
    assert off.rewrite_with_model  # not named: left as it was
    assert Settings.from_env({"PLANQA_REWRITE_WITH_MODEL": "no"}).chain.rewrite_with_model is False
    assert Settings.from_env({"PLANQA_LOOK_AGAIN": "YES"}).chain.look_again is True
    assert Settings.from_env({}).chain.retry_naming_passages is True
    retry = Settings.from_env({"PLANQA_RETRY_NAMING_PASSAGES": "false"}).chain
    assert retry.retry_naming_passages is False
    with pytest.raises(PlanQAError, match="PLANQA_LOOK_AGAIN must be true or false"):
        Settings.from_env({"PLANQA_LOOK_AGAIN": "maybe"})
    config = tmp_path / "planqa.toml"
    config.write_text("answer_anyway = false\nlook_again = true\n", encoding="utf-8")
    chain = Settings.from_env({"PLANQA_CONFIG": str(config)}).chain
    assert (chain.answer_anyway, chain.look_again) == (False, True)
    # The environment wins over the file.
    chain = Settings.from_env({"PLANQA_CONFIG": str(config), "PLANQA_ANSWER_ANYWAY": "1"}).chain
    assert chain.answer_anyway is True
    # A switch is true or false in TOML, not text or a number; a number is not a switch.
    for bad, why in (
        ('answer_anyway = "no"', "'answer_anyway' must be true or false, got 'no'"),
        ("answer_anyway = 0", "'answer_anyway' must be true or false, got 0"),
        ("context_chars = true", "'context_chars' must be a whole number, got True"),
    ):
        config.write_text(bad + "\n", encoding="utf-8")
        with pytest.raises(PlanQAError, match=why):
            Settings.from_env({"PLANQA_CONFIG": str(config)})
