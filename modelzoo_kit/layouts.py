"""README layouts as data: what sections a training-deliverable README has, in what order, how
they are anchored, where its facts live and which jinja templates write it.

The rules (:mod:`modelzoo_kit.rules`), the zoo walk's classifier (:mod:`modelzoo_kit.classify`)
and the renderer read a :class:`Layout`; none of them names a section itself. Two layouts ship:

- ``template``: the training deliverable template of the zoo's spec (``<h2 id="概述.md">``
  top sections, a 交付件基本信息 block of labelled fields, 参考实现 with url/branch/commit_id).
  It is the default, and what Ascend/ModelZoo-TensorFlow mostly follows.
- ``pytorch-2022``: the layout Ascend/ModelZoo-PyTorch moved to in August 2022 (``# 概述`` …
  ``# 版本说明``, no basic-information fields, a results table under 训练结果展示).

This module is also the one place for the file names a deliverable folder is made of.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelzoo_kit.errors import UsageError

#: The file that holds a deliverable's metadata.
DELIVERABLE_FILE = "deliverable.yaml"

#: README file per language, the same in every layout.
README_FILES: dict[str, str] = {"zh": "README.md", "en": "README.en.md"}

#: README file -> its language.
README_LANGUAGES: dict[str, str] = {name: lang for lang, name in README_FILES.items()}


@dataclass(frozen=True)
class SectionSpec:
    """One section a layout defines. ``aliases`` are the titles that count as it (compared
    after :func:`modelzoo_kit.readme.normalise_section_title` and lower-casing)."""

    name: str
    aliases: tuple[str, ...]
    required: bool = True
    subsections: tuple[SectionSpec, ...] = ()

    def matches(self, key: str) -> bool:
        return key in self.aliases


@dataclass(frozen=True)
class ReferenceConvention:
    """What a code-reference block (参考实现, 适配昇腾 AI 处理器的实现) must give."""

    required_keys: tuple[str, ...]
    code_path_is_model_folder: bool = False
    """The adapted ``code_path=`` must end in the model's own folder, not its parent."""
    labels: tuple[str, ...] = ()
    """The labels (spaces dropped, lower-cased) that introduce the block in this layout; empty:
    every label the reader knows (the template's READMEs use many: 模型来源, 开源代码路径…)."""


@dataclass(frozen=True)
class Layout:
    """A README layout. ``top_level``: the heading level of its top sections as written in
    markdown (the template writes them as ``<h2 id>``, which ranks above a markdown ``##``)."""

    name: str
    description: str
    called: str
    """How messages name it: ``the template``."""
    sections: tuple[SectionSpec, ...]
    top_level: int
    html_anchors: bool
    """Top sections carry ``<h2 id="<name>.md">`` anchors (MZ104 checks they match)."""
    fields_section: str | None
    """The section that holds the basic-information fields; None: the layout has none."""
    references: dict[str, ReferenceConvention]
    results_section: str | None = None
    """The section that holds the training results table; None: the layout has none."""
    environment_section: str | None = None
    """The section whose table lists the supported framework versions."""
    templates: dict[str, str] = field(default_factory=dict)
    """Language -> jinja template under ``templates/``."""

    def section(self, name: str) -> SectionSpec:
        return next(s for s in self.sections if s.name == name)

    @property
    def required(self) -> tuple[SectionSpec, ...]:
        return tuple(s for s in self.sections if s.required)


TEMPLATE = Layout(
    name="template",
    description="the training deliverable template (../shared/spec), Ascend/ModelZoo-TensorFlow",
    called="the template",
    sections=(
        SectionSpec(
            "交付件基本信息", ("交付件基本信息", "基本信息", "basic information", "basic info")
        ),
        SectionSpec("概述", ("概述", "overview")),
        SectionSpec(
            "训练环境准备",
            ("训练环境准备", "training environment", "training environment preparation",
             "training environment setup", "preparing the training environment"),
        ),
        SectionSpec("快速上手", ("快速上手", "quick start", "getting started")),
        SectionSpec(
            "迁移学习指导", ("迁移学习指导", "transfer learning", "transfer learning guide")
        ),
        SectionSpec("高级参考", ("高级参考", "advanced reference", "advanced references")),
    ),
    top_level=2,
    html_anchors=True,
    fields_section="交付件基本信息",
    references={
        "reference": ReferenceConvention(("url", "branch", "commit_id")),
        "adapted": ReferenceConvention(("url", "branch", "commit_id", "code_path")),
    },
    templates={"zh": "README.zh.md.j2", "en": "README.en.md.j2"},
)  # fmt: skip

PYTORCH_2022 = Layout(
    name="pytorch-2022",
    description="the Ascend/ModelZoo-PyTorch training layout of August 2022",
    called="the pytorch-2022 layout",
    sections=(
        SectionSpec(
            "概述",
            ("概述", "overview"),
            subsections=(SectionSpec("简述", ("简述", "summary")),),
        ),
        SectionSpec(
            "准备训练环境",
            ("准备训练环境", "preparing the training environment", "training environment"),
            subsections=(
                SectionSpec("准备环境", ("准备环境", "preparing the environment")),
                SectionSpec(
                    "准备数据集",
                    ("准备数据集", "准备训练数据集", "preparing the dataset", "preparing datasets"),
                ),
                SectionSpec(
                    "获取预训练模型",
                    ("获取预训练模型", "下载预训练模型", "准备预训练模型",
                     "obtaining the pre-trained model"),
                    required=False,
                ),
            ),
        ),
        SectionSpec(
            "开始训练",
            ("开始训练", "training"),
            subsections=(SectionSpec("训练模型", ("训练模型", "training the model")),),
        ),
        SectionSpec("训练结果展示", ("训练结果展示", "training result", "training results")),
        SectionSpec(
            "版本说明",
            ("版本说明", "version description", "release notes"),
            subsections=(
                SectionSpec("变更", ("变更", "change", "changes")),
                SectionSpec("FAQ", ("faq", "已知问题", "known issues"), required=False),
            ),
        ),
        SectionSpec(
            "公网地址说明",
            ("公网地址说明", "public address statement", "public network addresses"),
            required=False,
        ),
    ),
    top_level=1,
    html_anchors=False,
    fields_section=None,
    references={
        "reference": ReferenceConvention(
            ("url", "commit_id"), labels=("参考实现", "referenceimplementation")
        ),
        "adapted": ReferenceConvention(
            ("url", "code_path"),
            code_path_is_model_folder=True,
            labels=(
                "适配昇腾ai处理器的实现",
                "ascendadaptation",
                "implementationadaptedtotheascendaiprocessor",
            ),
        ),
    },
    results_section="训练结果展示",
    environment_section="准备环境",
    templates={"zh": "pytorch-2022/README.zh.md.j2", "en": "pytorch-2022/README.en.md.j2"},
)  # fmt: skip

#: Every layout the kit knows, by name; the first is the default.
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (TEMPLATE, PYTORCH_2022)}
DEFAULT_LAYOUT = TEMPLATE.name


def get_layout(name: str | None) -> Layout:
    """The layout called ``name`` (the default when None); a usage error names the choices."""
    if name is None:
        return LAYOUTS[DEFAULT_LAYOUT]
    try:
        return LAYOUTS[name]
    except KeyError:
        raise UsageError(f"unknown layout {name!r}; choose one of {', '.join(LAYOUTS)}") from None
