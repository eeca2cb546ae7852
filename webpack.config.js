// One config array: the extension host, the standalone debug adapter and the CLI (node),
// and the visualizer (web). Source maps are separate files and never shipped in the VSIX.
'use strict';
const path = require('path');

const nodeCommon = (argv) => ({
  target: 'node20',
  mode: argv.mode || 'production',
  devtool: argv.mode === 'development' ? 'source-map' : false,
  resolve: { extensions: ['.ts', '.js'] },
  module: { rules: [{ test: /\.ts$/, exclude: /node_modules/, use: { loader: 'ts-loader', options: { transpileOnly: true } } }] },
  output: { path: path.resolve(__dirname, 'dist'), filename: '[name].js', libraryTarget: 'commonjs2' },
  externals: { vscode: 'commonjs vscode' },
  performance: { hints: false },
  optimization: { minimize: false },
});

module.exports = (env, argv) => {
  const configs = [
    { ...nodeCommon(argv), name: 'extension', entry: { extension: './src/extension/extension.ts' } },
    { ...nodeCommon(argv), name: 'debugAdapter', entry: { debugAdapter: './src/debug/main.ts' } },
    {
      ...nodeCommon(argv),
      name: 'cli',
      entry: { xpl: './src/cli/main.ts' },
      plugins: [new (require('webpack').BannerPlugin)({ banner: '#!/usr/bin/env node', raw: true })],
    },
    {
      name: 'webview',
      target: 'web',
      mode: argv.mode || 'production',
      devtool: argv.mode === 'development' ? 'source-map' : false,
      entry: { visualizer: './webview/main.ts' },
      resolve: { extensions: ['.ts', '.js'] },
      module: {
        rules: [
          { test: /\.ts$/, exclude: /node_modules/, use: { loader: 'ts-loader', options: { transpileOnly: true, configFile: path.resolve(__dirname, 'webview/tsconfig.json') } } },
          { test: /\.css$/, use: [require('mini-css-extract-plugin').loader, 'css-loader'] },
        ],
      },
      plugins: [new (require('mini-css-extract-plugin'))({ filename: '[name].css' })],
      output: { path: path.resolve(__dirname, 'dist', 'webview'), filename: '[name].js' },
      performance: { hints: false },
    },
  ];
  const only = env && env.only ? String(env.only).split(',') : null;
  return only ? configs.filter((c) => only.includes(c.name)) : configs;
};
