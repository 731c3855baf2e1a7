// Every label of the viewer, in one table: key → {zh, en}. Chinese is the default language.
// KPI labels come from the server (label_zh / label_en); layer and land-use names live here.

export const LABELS = {
  title: { zh: 'CIM 一屏总览', en: 'CIM city overview' },
  'mode.plan': { zh: '规划', en: 'Plan' },
  'mode.build': { zh: '建设', en: 'Build' },
  'mode.manage': { zh: '管理', en: 'Manage' },
  'mode.operate': { zh: '运行', en: 'Operate' },
  'mode.serve': { zh: '服务', en: 'Services' },
  'legend.population': { zh: '人口/格网', en: 'Residents per cell' },
  'legend.suppressed': { zh: '不足5人（不公开）', en: 'Fewer than k (not shown)' },
  'people.residents': { zh: '常住人口', en: 'Residents' },
  'people.units': { zh: '住房', en: 'Housing units' },
  'people.suppressed': { zh: '不足k人', en: 'below k' },
  'people.unit_number': { zh: '房号', en: 'Unit' },
  'people.floor': { zh: '楼层', en: 'Floor' },
  'people.area': { zh: '面积', en: 'Area' },
  'people.use': { zh: '用途', en: 'Use' },
  'people.tenure': { zh: '产权', en: 'Tenure' },
  'lang.toggle': { zh: 'EN', en: '中文' },
  'search.placeholder': { zh: '搜索名称或编号…', en: 'Search name or id…' },
  'search.none': { zh: '无结果', en: 'No results' },
  'panel.layers': { zh: '图层', en: 'Layers' },
  'panel.legend': { zh: '图例', en: 'Legend' },
  'panel.kpis': { zh: '指标', en: 'Indicators' },
  'panel.alerts': { zh: '当前告警', en: 'Open alerts' },
  'panel.alerts.none': { zh: '暂无告警', en: 'No open alerts' },
  'panel.object': { zh: '对象属性', en: 'Object' },
  'panel.parents': { zh: '所属', en: 'Part of' },
  'panel.series': { zh: '近期读数', en: 'Recent values' },
  'panel.close': { zh: '关闭', en: 'Close' },
  'panel.loading': { zh: '加载中…', en: 'Loading…' },
  'field.id': { zh: '编号', en: 'Id' },
  'field.layer': { zh: '图层', en: 'Layer' },
  'field.class': { zh: '类型', en: 'Class' },
  'field.name': { zh: '名称', en: 'Name' },
  'field.height': { zh: '高度 (m)', en: 'Height (m)' },
  'field.z': { zh: '标高范围 (m)', en: 'Elevation range (m)' },
  'field.value': { zh: '读数', en: 'Value' },
  'field.status': { zh: '状态', en: 'Status' },
  'field.time': { zh: '时间', en: 'Time' },
  'tool.measure': { zh: '量测', en: 'Measure' },
  'tool.measure.distance': { zh: '距离', en: 'Distance' },
  'tool.measure.area': { zh: '面积', en: 'Area' },
  'tool.measure.hint': { zh: '单击地图添加点，双击或按 Esc 结束', en: 'Click to add points; double-click or Esc to finish' },
  'tool.measure.clear': { zh: '清除', en: 'Clear' },
  'tool.below': { zh: '地下视图', en: 'Below ground' },
  'tool.measure.height': { zh: '高差', en: 'Height' },
  'tool.measure.elevation': { zh: '标高', en: 'Elevation' },
  'tool.measure.horizontal': { zh: '水平距离', en: 'Horizontal' },
  'tool.measure.slope': { zh: '坡度', en: 'Slope' },
  'tool.measure.hint.height': { zh: '依次单击两点（地面、屋顶或构件）', en: 'Click two points (ground, roof or element)' },
  'tool.compare': { zh: '对比', en: 'Compare' },
  'tool.section': { zh: '剖切', en: 'Section' },
  'tool.annotate': { zh: '批注', en: 'Annotate' },
  'compare.swipe': { zh: '卷帘', en: 'Swipe' },
  'compare.split': { zh: '分屏', en: 'Side by side' },
  'compare.layer': { zh: '比对图层', en: 'Layer' },
  'compare.now': { zh: '当前', en: 'Now' },
  'compare.time': { zh: '指定时间…', en: 'A time…' },
  'compare.version': { zh: '版本', en: 'Version' },
  'compare.proposal': { zh: '方案', en: 'Proposal' },
  'compare.added': { zh: '新增', en: 'Added' },
  'compare.removed': { zh: '删除', en: 'Removed' },
  'compare.modified': { zh: '修改', en: 'Modified' },
  'compare.noversions': { zh: '服务器未提供版本列表（/api/versions），可按时间对比', en: 'The server lists no versions (/api/versions): compare by time' },
  'compare.nodiff': { zh: '服务器未提供差异分析，未高亮变化要素', en: 'No diff from the server: changed features are not highlighted' },
  'compare.noproposal': { zh: '服务器未提供方案', en: 'The server has no such proposal' },
  'section.horizontal': { zh: '水平剖切（标高）', en: 'Horizontal (elevation)' },
  'section.vertical': { zh: '竖向剖切（视线方向）', en: 'Vertical (along the view)' },
  'annotate.hint': { zh: '单击地图放置批注点；单击三点以上为区域', en: 'Click the map for a point; three or more clicks make an area' },
  'annotate.placeholder': { zh: '批注内容', en: 'Note' },
  'annotate.minrole': { zh: '可见角色', en: 'Readable by' },
  'annotate.save': { zh: '保存', en: 'Save' },
  'annotate.cancel': { zh: '取消', en: 'Cancel' },
  'annotate.delete': { zh: '删除', en: 'Delete' },
  'annotate.place': { zh: '请先在地图上单击放置批注', en: 'Click the map to place the note first' },
  'annotate.needkey': { zh: '写批注需要 viewer 及以上角色：请在设置中填写 API 密钥', en: 'Writing notes needs the viewer role or higher: set an API key in Settings' },
  'annotate.none': { zh: '暂无批注', en: 'No notes' },
  'panel.annotations': { zh: '批注', en: 'Notes' },
  'role.anonymous': { zh: '所有人', en: 'Everyone' },
  'role.viewer': { zh: '浏览者及以上', en: 'Viewer and up' },
  'role.operator': { zh: '运维人员及以上', en: 'Operator and up' },
  'role.planner': { zh: '规划人员及以上', en: 'Planner and up' },
  'role.admin': { zh: '仅管理员', en: 'Admin only' },
  'tool.settings': { zh: '设置', en: 'Settings' },
  'time.label': { zh: '时间', en: 'As of' },
  'time.now': { zh: '现在', en: 'Now' },
  'time.note': { zh: '按所选时刻显示传感器读数、告警、指标与地图图层',
    en: 'Sensor readings, alerts, figures and map layers as of the chosen time' },
  'time.map': { zh: '地图为所选时刻的版本', en: 'The map shows the layers as they were then' },
  'time.absent': { zh: '当时尚无', en: 'not there yet' },
  'time.last': { zh: '最新数据', en: 'Latest data' },
  'settings.apikey': { zh: 'API 密钥（可选）', en: 'API key (optional)' },
  'settings.basemap': { zh: '在线底图 URL（可选，默认关闭）', en: 'Online basemap URL (optional, off by default)' },
  'settings.save': { zh: '保存', en: 'Save' },
  'status.ok': { zh: '正常', en: 'OK' },
  'status.warn': { zh: '预警', en: 'Warning' },
  'status.alarm': { zh: '告警', en: 'Alarm' },
  'status.stale': { zh: '离线', en: 'Stale' },
  'live.connected': { zh: '实时', en: 'Live' },
  'live.disconnected': { zh: '实时连接中断', en: 'Live feed lost' },
  'error.load': { zh: '加载失败', en: 'Failed to load' },
  'tip.far': { zh: '容积率 ≤', en: 'FAR ≤' },
  'tip.height': { zh: '限高', en: 'height ≤' },
  'legend.violation': { zh: '违反规划条件的建筑', en: 'Building that breaks a planning rule' },
  'legend.building': { zh: '建筑体量', en: 'Building massing' },
  'legend.worksite': { zh: '施工工地', en: 'Worksite' },
  'legend.bim': { zh: 'BIM 模型', en: 'BIM model' },
  'legend.sensor': { zh: '传感器', en: 'Sensor' },
  'legend.tunnel': { zh: '综合管廊', en: 'Utility tunnel' },
  'legend.parking': { zh: '停车场', en: 'Parking' },
  'legend.chargers': { zh: '有充电桩的停车场', en: 'Parking with chargers' },
  'legend.alert': { zh: '告警位置', en: 'Alert location' },
  'legend.road': { zh: '道路', en: 'Road' },
  'legend.green': { zh: '绿地', en: 'Green space' },
  'layer.blocks': { zh: '街坊', en: 'Blocks' },
  'layer.parcels': { zh: '地块', en: 'Parcels' },
  'layer.buildings': { zh: '建筑', en: 'Buildings' },
  'layer.roads': { zh: '道路', en: 'Roads' },
  'layer.pipes': { zh: '地下管线', en: 'Pipes' },
  'layer.utility_tunnel': { zh: '综合管廊', en: 'Utility tunnel' },
  'layer.green_space': { zh: '绿地', en: 'Green space' },
  'layer.parking_lots': { zh: '停车场', en: 'Parking lots' },
  'layer.dem': { zh: '地形', en: 'Terrain' },
  'layer.sensors': { zh: '传感器', en: 'Sensors' },
  'layer.alerts': { zh: '告警', en: 'Alerts' },
  'layer.measure': { zh: '量测', en: 'Measurement' },
  'layer.basemap': { zh: '在线底图', en: 'Online basemap' },
  'network.water': { zh: '给水', en: 'Water' },
  'network.gas': { zh: '燃气', en: 'Gas' },
  'network.power': { zh: '电力', en: 'Power' },
  'network.sewer': { zh: '污水', en: 'Sewer' },
  'network.storm': { zh: '雨水', en: 'Storm water' },
  'network.heat': { zh: '热力', en: 'Heating' },
  'network.telecom': { zh: '通信', en: 'Telecom' },
  'network.other': { zh: '其他管线', en: 'Other pipes' },
  // land uses (GB 50137-2011 codes)
  'landuse.R': { zh: '居住用地', en: 'Residential' },
  'landuse.R1': { zh: '一类居住用地', en: 'Residential (class 1)' },
  'landuse.R2': { zh: '二类居住用地', en: 'Residential (class 2)' },
  'landuse.R3': { zh: '三类居住用地', en: 'Residential (class 3)' },
  'landuse.A': { zh: '公共管理与公共服务用地', en: 'Public administration & services' },
  'landuse.A3': { zh: '教育科研用地', en: 'Education & research' },
  'landuse.B': { zh: '商业服务业设施用地', en: 'Commercial & business' },
  'landuse.B1': { zh: '商业用地', en: 'Commercial' },
  'landuse.M': { zh: '工业用地', en: 'Industrial' },
  'landuse.M1': { zh: '一类工业用地', en: 'Industrial (class 1)' },
  'landuse.W': { zh: '物流仓储用地', en: 'Logistics & warehouse' },
  'landuse.S': { zh: '道路与交通设施用地', en: 'Roads & transport' },
  'landuse.S4': { zh: '社会停车场用地', en: 'Public parking' },
  'landuse.U': { zh: '公用设施用地', en: 'Utilities' },
  'landuse.U1': { zh: '供应设施用地', en: 'Supply facilities' },
  'landuse.G': { zh: '绿地与广场用地', en: 'Green space & squares' },
  'landuse.G1': { zh: '公园绿地', en: 'Parks' },
  'landuse.other': { zh: '其他用地', en: 'Other land use' },
};

let current = 'zh';

/** The active language, 'zh' or 'en'. */
export function lang() {
  return current;
}

/** Switch language; returns the new one. */
export function setLang(value) {
  current = value === 'en' ? 'en' : 'zh';
  return current;
}

/** Label for `key` in the active language; unknown keys fall back to `fallback` or the key. */
export function t(key, fallback) {
  const entry = LABELS[key];
  if (!entry) return fallback ?? key;
  return entry[current] ?? entry.zh;
}

/** Pick the server-provided label of a KPI in the active language. */
export function kpiLabel(kpi) {
  return current === 'en' ? (kpi.label_en || kpi.label_zh || kpi.key) : (kpi.label_zh || kpi.label_en || kpi.key);
}

/** Re-label every element carrying data-i18n (text) or data-i18n-placeholder. */
export function applyLabels(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  document.documentElement.lang = current === 'en' ? 'en' : 'zh-CN';
  document.title = t('title');
}
