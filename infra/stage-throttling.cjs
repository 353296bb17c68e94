// osls plugin: throttling of the REST API's stage, which osls has no setting for (a usage plan
// throttles API-key clients only). It puts custom.apiThrottling on the deployment's stage
// (AWS::ApiGateway::Deployment StageDescription): a rate and burst for every method, and lower ones
// for the methods listed. osls makes a new deployment on every deploy, which applies them.
'use strict';

/** A method's path as a method setting names it: `/api/v2` is `/~1api~1v2`. */
const resourcePath = (path) => `/${path.replace(/\//g, '~1')}`;

class StageThrottling {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'after:package:compileEvents': () => this.addThrottling() };
  }

  addThrottling() {
    const settings = this.serverless.service.custom?.apiThrottling;
    if (!settings) return;
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    const deployments = Object.values(resources).filter((resource) => resource.Type === 'AWS::ApiGateway::Deployment');
    if (deployments.length !== 1) throw new Error(`custom.apiThrottling: expected one API deployment, found ${deployments.length}`);
    deployments[0].Properties.StageDescription = {
      ThrottlingRateLimit: settings.rateLimit,
      ThrottlingBurstLimit: settings.burstLimit,
      MethodSettings: (settings.methods ?? []).map((method) => ({
        ResourcePath: resourcePath(method.path),
        HttpMethod: method.method,
        ThrottlingRateLimit: method.rateLimit,
        ThrottlingBurstLimit: method.burstLimit,
      })),
    };
  }
}

module.exports = StageThrottling;
