import assert from 'node:assert/strict';
import { test } from 'node:test';
import { documentSelector, escapeGlob, isProjectFile, owningRoot, projectRoots } from '../src/core/documents';

const roots = projectRoots(['/w/analytics/dbt_project.yml', '/w/other/proj/dbt_project.yml']);

test('project roots are the folders of dbt_project.yml', () => {
  assert.deepEqual(roots, ['/w/analytics', '/w/other/proj']);
  assert.deepEqual(projectRoots(['C:\\w\\p\\dbt_project.yml']), ['C:/w/p']);
});

test('the selector is scoped to each project folder', () => {
  assert.deepEqual(documentSelector(['/w/analytics']), [{ scheme: 'file', pattern: '/w/analytics/**/*.{sql,yml,yaml,py}' }]);
  assert.equal(escapeGlob('/w/a[1]{x}'), '/w/a[[]1[]][{]x[}]');
});

test('SQL, YAML and Python files inside a dbt project are ours', () => {
  assert.ok(isProjectFile('/w/analytics/models/orders.sql', roots));
  assert.ok(isProjectFile('/w/analytics/models/schema.yml', roots));
  assert.ok(isProjectFile('/w/analytics/dbt_project.yml', roots));
  assert.ok(isProjectFile('/w/analytics/models/py_model.py', roots));
  assert.ok(isProjectFile('/w/other/proj/models/a.YAML', roots));
});

test('other SQL/YAML files are left alone', () => {
  assert.ok(!isProjectFile('/w/scripts/migrate.sql', roots));
  assert.ok(!isProjectFile('/w/.github/workflows/ci.yml', roots));
  assert.ok(!isProjectFile('/w/analyticsX/models/a.sql', roots), 'a sibling folder with the same prefix');
  assert.ok(!isProjectFile('/w/analytics/README.md', roots));
});

test("dbt's generated and vendored folders are left alone", () => {
  assert.ok(!isProjectFile('/w/analytics/target/compiled/a.sql', roots));
  assert.ok(!isProjectFile('/w/analytics/dbt_packages/dbt_utils/macros/x.sql', roots));
  assert.ok(!isProjectFile('/w/analytics/logs/x.yml', roots));
});

test('nested projects: the innermost root owns the file', () => {
  const nested = ['/w/mono', '/w/mono/sub'];
  assert.equal(owningRoot('/w/mono/sub/models/a.sql', nested), '/w/mono/sub');
  assert.equal(owningRoot('/w/mono/models/a.sql', nested), '/w/mono');
});
