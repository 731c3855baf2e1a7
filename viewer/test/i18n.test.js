import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LABELS, kpiLabel, setLang, t } from '../src/i18n.js';
import { LAND_USE_COLORS, NETWORK_COLORS, STATUS_COLORS } from '../src/palette.js';

test('every label has Chinese and English text', () => {
  for (const [key, entry] of Object.entries(LABELS)) {
    assert.ok(entry.zh && entry.en, `label ${key} lacks a language`);
  }
});

test('every coloured land use, network and status has a label', () => {
  for (const code of Object.keys(LAND_USE_COLORS)) assert.ok(LABELS[`landuse.${code}`], code);
  for (const n of Object.keys(NETWORK_COLORS)) assert.ok(LABELS[`network.${n}`], n);
  for (const s of Object.keys(STATUS_COLORS)) assert.ok(LABELS[`status.${s}`], s);
});

test('the language switch changes t() and KPI labels; unknown keys fall back', () => {
  setLang('en');
  assert.equal(t('mode.plan'), 'Plan');
  assert.equal(kpiLabel({ key: 'k', label_zh: '建筑', label_en: 'Buildings' }), 'Buildings');
  assert.equal(t('layer.somewhere', 'somewhere'), 'somewhere');
  setLang('zh');
  assert.equal(t('mode.plan'), '规划');
  assert.equal(kpiLabel({ key: 'k', label_zh: '建筑', label_en: 'Buildings' }), '建筑');
  assert.equal(kpiLabel({ key: 'k', label_en: 'Only English' }), 'Only English');
});
