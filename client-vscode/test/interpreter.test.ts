import assert from 'node:assert/strict';
import { test } from 'node:test';
import { choosePython, expandPath, installCommand, missingFreshlensMessage, serverArgs } from '../src/core/interpreter';

test('the setting wins over the Python extension and the default', () => {
  assert.deepEqual(choosePython({ configured: '/opt/py/bin/python', fromPythonExtension: '/env/bin/python' }), {
    python: '/opt/py/bin/python',
    source: 'setting',
  });
});

test("the Python extension's environment is used when the setting is empty", () => {
  assert.deepEqual(choosePython({ configured: '  ', fromPythonExtension: '/env/bin/python' }), {
    python: '/env/bin/python',
    source: 'python-extension',
  });
});

test('python3 is the last resort, python on Windows', () => {
  assert.deepEqual(choosePython({}), { python: 'python3', source: 'default' });
  assert.equal(choosePython({ platform: 'win32' }).python, 'python');
});

test('${workspaceFolder} and ~ are expanded in the setting', () => {
  const c = choosePython({ configured: '${workspaceFolder}/.venv/bin/python', workspaceFolder: '/w/proj', home: '/home/u' });
  assert.equal(c.python, '/w/proj/.venv/bin/python');
  assert.equal(expandPath('~/venv/bin/python', undefined, '/home/u'), '/home/u/venv/bin/python');
  assert.equal(expandPath('${userHome}/x', undefined, '/home/u'), '/home/u/x');
  assert.equal(expandPath('/a~b', undefined, '/home/u'), '/a~b');
});

test('the server is started as python -m freshlens serve', () => {
  assert.deepEqual(serverArgs(), ['-m', 'freshlens', 'serve']);
});

test('the install command quotes paths with spaces', () => {
  assert.equal(installCommand('/usr/bin/python3'), '/usr/bin/python3 -m pip install freshlens');
  assert.equal(installCommand('/My Envs/bin/python'), "'/My Envs/bin/python' -m pip install freshlens");
  assert.equal(installCommand('C:\\Py 3\\python.exe', 'win32'), '& "C:\\Py 3\\python.exe" -m pip install freshlens');
});

test('the missing-freshlens message names the interpreter and the command', () => {
  const msg = missingFreshlensMessage({ python: '/env/bin/python', source: 'python-extension' });
  assert.match(msg, /cannot import freshlens/);
  assert.match(msg, /Python extension's selected interpreter/);
  assert.match(msg, /\/env\/bin\/python -m pip install freshlens/);
});
